# shopflow dev: the same shape as prod, smaller and cheaper - one NAT gateway, single-AZ databases,
# one broker node, no deletion protection.

module "platform_key" {
  source = "../../modules/platform_key"

  name                 = local.name
  deletion_window_days = 7
}

module "network" {
  source = "../../modules/network"

  name                    = local.name
  cidr_block              = var.vpc_cidr
  availability_zones      = local.availability_zones
  single_nat_gateway      = true
  flow_log_retention_days = 30
  log_kms_key_arn         = module.platform_key.key_arn
}

module "data_lake" {
  source = "../../modules/data_lake"

  bucket_name                = var.lake_bucket_name
  force_destroy              = true
  quarantine_expiration_days = 14
  access_log_bucket          = var.s3_access_log_bucket
  kms_deletion_window_days   = 7
}

module "warehouse" {
  source = "../../modules/warehouse"

  name                       = "${local.name}-warehouse"
  vpc_id                     = module.network.vpc_id
  subnet_ids                 = module.network.data_subnet_ids
  allowed_security_group_ids = { airflow_tasks = module.airflow.tasks_security_group_id }
  instance_class             = var.warehouse_instance_class
  allocated_storage_gb       = 20
  kms_key_arn                = module.platform_key.key_arn
  multi_az                   = false
  backup_retention_days      = 3
  deletion_protection        = false
  final_snapshot             = false
}

# Airflow's metadata database: the same hardened PostgreSQL module, its own instance, so that
# warehouse load never slows the scheduler and each can be restored on its own.
module "airflow_metadata" {
  source = "../../modules/warehouse"

  name                       = "${local.name}-airflow-metadata"
  vpc_id                     = module.network.vpc_id
  subnet_ids                 = module.network.data_subnet_ids
  allowed_security_group_ids = { airflow_tasks = module.airflow.tasks_security_group_id }
  instance_class             = var.metadata_instance_class
  allocated_storage_gb       = 20
  max_allocated_storage_gb   = 50
  database_name              = "airflow"
  master_username            = "airflow"
  kms_key_arn                = module.platform_key.key_arn
  multi_az                   = false
  backup_retention_days      = 3
  deletion_protection        = false
  final_snapshot             = false
}

module "airflow" {
  source = "../../modules/airflow"

  name      = local.name
  image_tag = var.image_tag

  vpc_id             = module.network.vpc_id
  vpc_cidr_block     = module.network.vpc_cidr_block
  private_subnet_ids = module.network.private_subnet_ids
  data_subnet_ids    = module.network.data_subnet_ids
  kms_key_arn        = module.platform_key.key_arn

  api_domain_name         = var.api_domain_name
  certificate_arn         = var.certificate_arn
  api_ingress_cidr_blocks = var.api_ingress_cidr_blocks
  alb_access_log_bucket   = var.alb_access_log_bucket

  metadata_db_address         = module.airflow_metadata.address
  metadata_db_port            = module.airflow_metadata.port
  metadata_db_name            = module.airflow_metadata.database_name
  metadata_db_username        = module.airflow_metadata.master_username
  metadata_db_credentials_arn = module.airflow_metadata.master_user_secret_arn

  warehouse_address         = module.warehouse.address
  warehouse_port            = module.warehouse.port
  warehouse_database        = module.warehouse.database_name
  warehouse_username        = module.warehouse.master_username
  warehouse_credentials_arn = module.warehouse.master_user_secret_arn

  shop_dsn_credentials_arn = var.shop_dsn_credentials_arn
  shop_db_cidr_blocks      = var.shop_db_cidr_blocks
  lake_bucket_name         = module.data_lake.bucket_name
  lake_access_policy_json  = module.data_lake.pipeline_access_policy_json
  fakestore_api_url        = var.fakestore_api_url

  control_cpu        = 512
  control_memory     = 1024
  worker_cpu         = 1024
  worker_memory      = 2048
  worker_concurrency = 4
  worker_min_count   = var.worker_min_count
  worker_max_count   = var.worker_max_count
  redis_node_type    = "cache.t4g.micro"
  redis_node_count   = 1

  log_retention_days          = 14
  secret_recovery_window_days = 0
  deletion_protection         = false
}
