variable "name" {
  type        = string
  description = "Name prefix of the environment (for example shopflow-dev); log groups are /<name>/airflow/..."
}

variable "image_tag" {
  type        = string
  description = "Tag of the shopflow image in this module's ECR repository (immutable tags: one per build)."
}

variable "admin_username" {
  type        = string
  description = "Airflow UI/API admin user (SimpleAuthManager); its generated password is in Secrets Manager."
  default     = "admin"
}

# --- network ---------------------------------------------------------------------------------------

variable "vpc_id" {
  type        = string
  description = "VPC of the environment."
}

variable "vpc_cidr_block" {
  type        = string
  description = "CIDR of the VPC; tasks may reach PostgreSQL inside it."
}

variable "private_subnet_ids" {
  type        = list(string)
  description = "Private subnets (route out through NAT) for the tasks and the internal load balancer."
}

variable "data_subnet_ids" {
  type        = list(string)
  description = "Isolated subnets for the Celery broker."
}

variable "kms_key_arn" {
  type        = string
  description = "Platform KMS key: secrets, logs, ECR images, broker at rest."
}

# --- who may reach the UI --------------------------------------------------------------------------

variable "api_domain_name" {
  type        = string
  description = "DNS name people use for the Airflow UI/API (covered by certificate_arn; point it at the load balancer)."
}

variable "certificate_arn" {
  type        = string
  description = "ACM certificate for api_domain_name, served by the internal load balancer."
}

variable "api_ingress_cidr_blocks" {
  type        = list(string)
  description = "CIDRs allowed to reach the UI/API over HTTPS (VPN, office); the load balancer is internal."

  validation {
    condition     = !contains(var.api_ingress_cidr_blocks, "0.0.0.0/0")
    error_message = "The Airflow UI is not exposed to 0.0.0.0/0; list the VPN or office ranges."
  }
}

variable "alb_access_log_bucket" {
  type        = string
  description = "Existing bucket for load balancer access logs, or null for none."
  default     = null
}

# --- what the tasks connect to ----------------------------------------------------------------------

variable "metadata_db_address" {
  type        = string
  description = "Host of Airflow's metadata PostgreSQL database."
}

variable "metadata_db_port" {
  type        = number
  description = "Port of the metadata database."
  default     = 5432
}

variable "metadata_db_name" {
  type        = string
  description = "Name of the metadata database."
}

variable "metadata_db_username" {
  type        = string
  description = "User Airflow connects to the metadata database as."
}

variable "metadata_db_credentials_arn" {
  type        = string
  description = "ARN of the RDS-managed Secrets Manager secret of metadata_db_username (JSON with a \"password\" key)."
}

variable "warehouse_address" {
  type        = string
  description = "Host of the warehouse database."
}

variable "warehouse_port" {
  type        = number
  description = "Port of the warehouse database."
  default     = 5432
}

variable "warehouse_database" {
  type        = string
  description = "Name of the warehouse database."
}

variable "warehouse_username" {
  type        = string
  description = "User the pipeline connects to the warehouse as."
}

variable "warehouse_credentials_arn" {
  type        = string
  description = "ARN of the RDS-managed Secrets Manager secret of warehouse_username (JSON with a \"password\" key)."
}

variable "shop_dsn_credentials_arn" {
  type        = string
  description = "ARN of a Secrets Manager secret whose value is the shop source database URL (postgresql://...), owned by the shop team."
}

variable "shop_db_cidr_blocks" {
  type        = list(string)
  description = "CIDRs of the shop source database when it is outside this VPC (peering, VPN); empty when inside."
  default     = []
}

variable "lake_bucket_name" {
  type        = string
  description = "Lake bucket (LAKE_BUCKET)."
}

variable "lake_access_policy_json" {
  type        = string
  description = "IAM policy document (JSON) granting the workers their access to the lake (data_lake module output)."
}

variable "fakestore_api_url" {
  type        = string
  description = "Base URL of the product API (FAKESTORE_API_URL)."
  default     = "https://fakestoreapi.com"
}

# --- sizes ------------------------------------------------------------------------------------------------

variable "control_cpu" {
  type        = number
  description = "Fargate CPU units for api-server, scheduler, dag-processor, triggerer and init (1024 = 1 vCPU)."
  default     = 1024
}

variable "control_memory" {
  type        = number
  description = "Fargate memory (MiB) for the control components."
  default     = 2048
}

variable "apiserver_count" {
  type        = number
  description = "Number of api-server tasks."
  default     = 1
}

variable "worker_cpu" {
  type        = number
  description = "Fargate CPU units per Celery worker."
  default     = 2048
}

variable "worker_memory" {
  type        = number
  description = "Fargate memory (MiB) per Celery worker."
  default     = 4096
}

variable "worker_concurrency" {
  type        = number
  description = "Task slots per worker (AIRFLOW__CELERY__WORKER_CONCURRENCY)."
  default     = 4
}

variable "worker_min_count" {
  type        = number
  description = "Fewest Celery workers."
  default     = 1
}

variable "worker_max_count" {
  type        = number
  description = "Most Celery workers the autoscaler may run."
  default     = 4

  validation {
    condition     = var.worker_max_count >= var.worker_min_count
    error_message = "worker_max_count must be at least worker_min_count."
  }
}

variable "worker_target_cpu_percent" {
  type        = number
  description = "Average worker CPU the autoscaler aims for."
  default     = 60
}

variable "redis_node_type" {
  type        = string
  description = "ElastiCache node type of the Celery broker, for example cache.t4g.micro."
  default     = "cache.t4g.micro"
}

variable "redis_node_count" {
  type        = number
  description = "Broker nodes: 1, or 2+ for a replica with automatic failover in another AZ."
  default     = 1
}

# --- retention and safety ------------------------------------------------------------------------------

variable "log_retention_days" {
  type        = number
  description = "Days to keep component and task logs in CloudWatch."
  default     = 30
}

variable "images_to_keep" {
  type        = number
  description = "Images kept in the ECR repository (older ones expire)."
  default     = 30
}

variable "secret_recovery_window_days" {
  type        = number
  description = "Days a deleted generated secret can be restored (0 deletes at once; 7-30 otherwise)."
  default     = 7
}

variable "deletion_protection" {
  type        = bool
  description = "Protect the load balancer from deletion."
  default     = true
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource of the module."
  default     = {}
}
