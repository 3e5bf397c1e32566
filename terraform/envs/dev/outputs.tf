output "airflow_url" {
  description = "Airflow UI and REST API."
  value       = module.airflow.api_url
}

output "airflow_load_balancer_dns_name" {
  description = "Point the airflow_url DNS record at this name."
  value       = module.airflow.load_balancer_dns_name
}

output "airflow_admin_password_secret_arn" {
  description = "Secret holding the generated Airflow admin password."
  value       = module.airflow.admin_password_secret_arn
}

output "ecr_repository_url" {
  description = "Where to push the shopflow image."
  value       = module.airflow.ecr_repository_url
}

output "run_init_task_command" {
  description = "Migrates the metadata database; run after pushing a new image, before the services roll."
  value = join(" ", [
    "aws ecs run-task --region ${var.region}",
    "--cluster ${module.airflow.cluster_name}",
    "--launch-type FARGATE",
    "--task-definition ${module.airflow.init_task_definition_arn}",
    "--network-configuration 'awsvpcConfiguration={subnets=[${join(",", module.airflow.private_subnet_ids)}],securityGroups=[${module.airflow.tasks_security_group_id}],assignPublicIp=DISABLED}'",
  ])
}

output "lake_bucket_name" {
  description = "The lake bucket (LAKE_BUCKET)."
  value       = module.data_lake.bucket_name
}

output "warehouse_address" {
  description = "Host of the warehouse database."
  value       = module.warehouse.address
}

output "warehouse_master_user_secret_arn" {
  description = "RDS-managed secret with the warehouse master password."
  value       = module.warehouse.master_user_secret_arn
}
