variable "name" {
  type        = string
  description = "Name prefix of the environment (for example shopflow-dev), used in resource names and tags."
}

variable "cidr_block" {
  type        = string
  description = "IPv4 CIDR of the VPC; a /16 is split into /20 subnets (public, private, data per AZ)."

  validation {
    condition     = can(cidrhost(var.cidr_block, 0)) && tonumber(split("/", var.cidr_block)[1]) <= 16
    error_message = "cidr_block must be a valid IPv4 CIDR of size /16 or larger."
  }
}

variable "availability_zones" {
  type        = list(string)
  description = "Names of the 2 or 3 availability zones to put subnets in, for example [\"eu-west-1a\", \"eu-west-1b\"]."

  validation {
    condition     = length(var.availability_zones) >= 2 && length(var.availability_zones) <= 3
    error_message = "Give 2 or 3 zones: RDS and ElastiCache subnet groups need at least 2, the /20 plan fits 3."
  }
}

variable "single_nat_gateway" {
  type        = bool
  description = "One NAT gateway for all AZs (cheaper, dev) instead of one per AZ (survives an AZ outage, prod)."
  default     = false
}

variable "flow_log_retention_days" {
  type        = number
  description = "Days to keep VPC flow logs in CloudWatch Logs."
  default     = 90
}

variable "log_kms_key_arn" {
  type        = string
  description = "ARN of the KMS key that encrypts the flow log group (the platform key)."
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource of the module."
  default     = {}
}
