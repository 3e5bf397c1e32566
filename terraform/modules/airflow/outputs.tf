output "ecr_repository_url" {
  description = "Push the image here (docker/Dockerfile), tagged with image_tag."
  value       = aws_ecr_repository.this.repository_url
}

output "cluster_name" {
  description = "ECS cluster of the Airflow services."
  value       = aws_ecs_cluster.this.name
}

output "api_url" {
  description = "URL of the Airflow UI and REST API (resolve api_domain_name to load_balancer_dns_name)."
  value       = "https://${var.api_domain_name}"
}

output "load_balancer_dns_name" {
  description = "DNS name of the internal load balancer, the target of the api_domain_name record."
  value       = aws_lb.api.dns_name
}

output "tasks_security_group_id" {
  description = "Security group of every Airflow task; databases allow PostgreSQL from it."
  value       = aws_security_group.tasks.id
}

output "init_task_definition_arn" {
  description = "Task definition that migrates the metadata database; run it before updating the services."
  value       = aws_ecs_task_definition.this["init"].arn
}

output "private_subnet_ids" {
  description = "Subnets to run the init task in (with tasks_security_group_id)."
  value       = var.private_subnet_ids
}

output "worker_role_arn" {
  description = "IAM role of the Celery workers (the only role with lake access)."
  value       = aws_iam_role.worker.arn
}

output "admin_password_secret_arn" {
  description = "Secrets Manager secret holding the generated admin password."
  value       = aws_secretsmanager_secret.generated["admin_password"].arn
}
