variable "name" {
  type        = string
  description = "Identifier of the database instance and prefix of its companion resources, for example shopflow-dev-warehouse."
}

variable "vpc_id" {
  type        = string
  description = "VPC the database lives in."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Isolated data subnets (at least two AZs) for the DB subnet group."

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "RDS needs subnets in at least two availability zones."
  }
}

variable "allowed_security_group_ids" {
  type        = map(string)
  description = "Security groups allowed to connect on 5432, keyed by a fixed label (for example { airflow_tasks = sg-... })."
}

variable "engine_version" {
  type        = string
  description = "PostgreSQL version; a major version (\"16\") lets RDS pick and patch the minor one."
  default     = "16"

  validation {
    condition     = startswith(var.engine_version, "16")
    error_message = "The warehouse is PostgreSQL 16 (the parameter group family is postgres16)."
  }
}

variable "instance_class" {
  type        = string
  description = "RDS instance class, for example db.t4g.medium."
}

variable "allocated_storage_gb" {
  type        = number
  description = "Initial storage in GiB."
  default     = 50
}

variable "max_allocated_storage_gb" {
  type        = number
  description = "Ceiling for storage autoscaling in GiB."
  default     = 500
}

variable "database_name" {
  type        = string
  description = "Name of the database created on the instance."
  default     = "warehouse"
}

variable "master_username" {
  type        = string
  description = "Master user name; its password is generated and kept by RDS in Secrets Manager."
  default     = "shopflow_admin"
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key for storage, the master user secret and Performance Insights."
}

variable "multi_az" {
  type        = bool
  description = "Run a synchronous standby in a second AZ."
  default     = true
}

variable "backup_retention_days" {
  type        = number
  description = "Days of automated backups (point-in-time recovery window), 1-35."
  default     = 14

  validation {
    condition     = var.backup_retention_days >= 1 && var.backup_retention_days <= 35
    error_message = "backup_retention_days must be between 1 and 35."
  }
}

variable "deletion_protection" {
  type        = bool
  description = "Refuse to delete the instance until this is turned off."
  default     = true
}

variable "final_snapshot" {
  type        = bool
  description = "Take a final snapshot when the instance is destroyed."
  default     = true
}

variable "log_min_duration_ms" {
  type        = number
  description = "Log statements slower than this many milliseconds (-1 disables)."
  default     = 2000
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource of the module."
  default     = {}
}
