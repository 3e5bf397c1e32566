variable "region" {
  type        = string
  description = "AWS region of the environment."
}

variable "vpc_cidr" {
  type        = string
  description = "CIDR of the environment's VPC (a /16)."
  default     = "10.50.0.0/16"
}

variable "lake_bucket_name" {
  type        = string
  description = "Globally unique name of the lake bucket."
}

variable "image_tag" {
  type        = string
  description = "Tag of the shopflow image to run (pushed to the ECR repository this root creates)."
}

variable "api_domain_name" {
  type        = string
  description = "DNS name of the Airflow UI/API, covered by certificate_arn."
}

variable "certificate_arn" {
  type        = string
  description = "ACM certificate ARN for api_domain_name."
}

variable "api_ingress_cidr_blocks" {
  type        = list(string)
  description = "CIDRs (VPN, office) allowed to reach the Airflow UI/API."
}

variable "shop_dsn_credentials_arn" {
  type        = string
  description = "ARN of the Secrets Manager secret holding the shop source database URL, provided by the shop team."
}

variable "shop_db_cidr_blocks" {
  type        = list(string)
  description = "CIDRs of the shop source database when it is outside the VPC."
  default     = []
}

variable "fakestore_api_url" {
  type        = string
  description = "Base URL of the product API."
  default     = "https://fakestoreapi.com"
}

variable "warehouse_instance_class" {
  type        = string
  description = "RDS instance class of the warehouse."
  default     = "db.r7g.large"
}

variable "metadata_instance_class" {
  type        = string
  description = "RDS instance class of Airflow's metadata database."
  default     = "db.t4g.medium"
}

variable "worker_min_count" {
  type        = number
  description = "Fewest Celery workers."
  default     = 2
}

variable "worker_max_count" {
  type        = number
  description = "Most Celery workers."
  default     = 8
}

variable "alb_access_log_bucket" {
  type        = string
  description = "Existing bucket for load balancer access logs, or null for none."
  default     = null
}

variable "s3_access_log_bucket" {
  type        = string
  description = "Existing bucket for the lake's S3 server access logs, or null for none."
  default     = null
}

variable "extra_tags" {
  type        = map(string)
  description = "Tags added to every resource besides Project, Environment and ManagedBy."
  default     = {}
}
