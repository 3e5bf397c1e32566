output "address" {
  description = "Host name of the warehouse (WAREHOUSE_DB_HOST)."
  value       = aws_db_instance.this.address
}

output "port" {
  description = "Port of the warehouse."
  value       = aws_db_instance.this.port
}

output "database_name" {
  description = "Database name (WAREHOUSE_DB_NAME)."
  value       = aws_db_instance.this.db_name
}

output "master_username" {
  description = "Master user name (WAREHOUSE_DB_USER)."
  value       = aws_db_instance.this.username
}

output "master_user_secret_arn" {
  description = "ARN of the RDS-managed secret holding the master password (JSON key \"password\")."
  value       = aws_db_instance.this.master_user_secret[0].secret_arn
}

output "security_group_id" {
  description = "Security group of the warehouse."
  value       = aws_security_group.this.id
}
