variable "bucket_name" {
  type        = string
  description = "Globally unique name of the lake bucket (LAKE_BUCKET for the pipeline)."

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be 3-63 lowercase letters, digits, dots or hyphens."
  }
}

variable "force_destroy" {
  type        = bool
  description = "Allow `terraform destroy` to delete a non-empty bucket (never in prod: the lake is the replay source)."
  default     = false
}

variable "raw_infrequent_access_after_days" {
  type        = number
  description = "Days after which raw/ objects move to S3 Standard-IA (at least 30)."
  default     = 30

  validation {
    condition     = var.raw_infrequent_access_after_days >= 30
    error_message = "S3 requires at least 30 days before a transition to STANDARD_IA."
  }
}

variable "raw_glacier_after_days" {
  type        = number
  description = "Days after which raw/ objects move to Glacier Instant Retrieval (still readable in milliseconds)."
  default     = 180

  validation {
    condition     = var.raw_glacier_after_days >= var.raw_infrequent_access_after_days + 30
    error_message = "raw_glacier_after_days must be at least 30 days after raw_infrequent_access_after_days."
  }
}

variable "noncurrent_version_expiration_days" {
  type        = number
  description = "Days an overwritten or deleted raw/ object version is kept before it is removed."
  default     = 90
}

variable "quarantine_expiration_days" {
  type        = number
  description = "Days a quarantined partition is kept for investigation."
  default     = 30
}

variable "landing_expiration_days" {
  type        = number
  description = "Days landing/ deliveries are kept after arrival (they are copied into raw/ daily)."
  default     = 14
}

variable "access_log_bucket" {
  type        = string
  description = "Existing bucket that receives S3 server access logs, or null to not log access."
  default     = null
}

variable "kms_deletion_window_days" {
  type        = number
  description = "Days a scheduled deletion of the lake key can still be cancelled (7-30)."
  default     = 30
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource of the module."
  default     = {}
}
