terraform {
  required_version = "~> 1.11"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.7"
    }
  }

  # Partial configuration: bucket, key and region come from `terraform init -backend-config=backend.hcl`
  # (see backend.hcl.example). The state holds generated secrets: the state bucket must be private
  # and encrypted, and reading it must be restricted like reading the secrets themselves.
  backend "s3" {
    encrypt      = true
    use_lockfile = true
  }
}
