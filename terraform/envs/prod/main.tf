# shopflow prod: every tier spread over three AZs - a NAT gateway per AZ, Multi-AZ databases, a
# broker replica with automatic failover - and everything protected from accidental deletion.

module "platform_key" {
  source = "../../modules/platform_key"

  name = local.name
}

module "network" {
  source = "../../modules/network"

  name                    = local.name
  cidr_block              = var.vpc_cidr
  availability_zones      = local.availability_zones
  single_nat_gateway      = false
  flow_log_retention_days = 365
  log_kms_key_arn         = module.platform_key.key_arn
}

module "data_lake" {
  source = "../../modules/data_lake"

  bucket_name       = var.lake_bucket_name
  force_destroy     = false
  access_log_bucket = var.s3_access_log_bucket
}

module "warehouse" {
  source = "../../modules/warehouse"

  name                       = "${local.name}-warehouse"
  vpc_id                     = module.network.vpc_id
  subnet_ids                 = module.network.data_subnet_ids
  allowed_security_group_ids = { airflow_tasks = module.airflow.tasks_security_group_id }
  instance_class             = var.warehouse_instance_class
  allocated_storage_gb       = 100
  max_allocated_storage_gb   = 1000
  kms_key_arn                = module.platform_key.key_arn
  multi_az                   = true
  backup_retention_days      = 14
  deletion_protection        = true
  final_snapshot             = true
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
  max_allocated_storage_gb   = 100
  database_name              = "airflow"
  master_username            = "airflow"
  kms_key_arn                = module.platform_key.key_arn
  multi_az                   = true
  backup_retention_days      = 14
  deletion_protection        = true
  final_snapshot             = true
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

  apiserver_count    = 2
  control_cpu        = 1024
  control_memory     = 2048
  worker_cpu         = 2048
  worker_memory      = 4096
  worker_concurrency = 4
  worker_min_count   = var.worker_min_count
  worker_max_count   = var.worker_max_count
  redis_node_type    = "cache.t4g.small"
  redis_node_count   = 2

  log_retention_days          = 90
  secret_recovery_window_days = 30
  deletion_protection         = true
}
