# Airflow 3 on ECS Fargate with the CeleryExecutor: one image (docker/Dockerfile, pushed to the ECR
# repository below) runs as five services - api-server, scheduler, dag-processor, triggerer, and
# autoscaled Celery workers - plus a one-off "init" task that migrates the metadata database.
# Celery's broker is ElastiCache (Redis); the metadata database is an RDS instance passed in.
# Why ECS and not MWAA: docs/deployment.md.

data "aws_region" "current" {}

locals {
  region    = data.aws_region.current.region
  image     = "${aws_ecr_repository.this.repository_url}:${var.image_tag}"
  namespace = "${var.name}.internal"

  # Workers reach the api-server's execution API over the private network (Cloud Map name), not
  # through the load balancer, whose certificate is for the human-facing domain.
  execution_api_url = "http://apiserver.${local.namespace}:8080/execution/"

  common_environment = {
    AIRFLOW__CORE__EXECUTOR                           = "CeleryExecutor"
    AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION        = "true"
    AIRFLOW__CORE__EXECUTION_API_SERVER_URL           = local.execution_api_url
    AIRFLOW__API__BASE_URL                            = "https://${var.api_domain_name}"
    AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS          = "${var.admin_username}:admin"
    AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE = "/opt/airflow/simple_auth_manager_passwords.json"
    AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK           = "true"
    AIRFLOW__CELERY__WORKER_CONCURRENCY               = tostring(var.worker_concurrency)
    # ElastiCache serves TLS with an Amazon-issued certificate: verify it.
    AIRFLOW__CELERY__EXTRA_CELERY_CONFIG = jsonencode({ broker_use_ssl = { ssl_cert_reqs = "required" } })
    # Task logs go to CloudWatch: Fargate tasks have no shared disk and no resolvable host names.
    AIRFLOW__LOGGING__REMOTE_LOGGING         = "true"
    AIRFLOW__LOGGING__REMOTE_BASE_LOG_FOLDER = "cloudwatch://${aws_cloudwatch_log_group.task_logs.arn}"
    AIRFLOW__LOGGING__REMOTE_LOG_CONN_ID     = "aws_default"
    AIRFLOW_CONN_AWS_DEFAULT                 = jsonencode({ conn_type = "aws", extra = { region_name = local.region } })
    AIRFLOW_DB_HOST                          = var.metadata_db_address
    AIRFLOW_DB_PORT                          = tostring(var.metadata_db_port)
    AIRFLOW_DB_NAME                          = var.metadata_db_name
    AIRFLOW_DB_USER                          = var.metadata_db_username
    AIRFLOW_DB_SSLMODE                       = "require"
    REDIS_HOST                               = aws_elasticache_replication_group.broker.primary_endpoint_address
    REDIS_PORT                               = "6379"
    REDIS_TLS                                = "true"
    AWS_DEFAULT_REGION                       = local.region
  }

  common_secrets = {
    AIRFLOW__CORE__FERNET_KEY     = aws_secretsmanager_secret.generated["fernet_key"].arn
    AIRFLOW__API_AUTH__JWT_SECRET = aws_secretsmanager_secret.generated["jwt_secret"].arn
    AIRFLOW__API__SECRET_KEY      = aws_secretsmanager_secret.generated["api_secret_key"].arn
    REDIS_PASSWORD                = aws_secretsmanager_secret.generated["redis_auth_token"].arn
    # RDS-managed secrets are JSON; ECS extracts one key with the ARN:key:: suffix.
    AIRFLOW_DB_PASSWORD = "${var.metadata_db_credentials_arn}:password::"
  }

  worker_environment = {
    WAREHOUSE_DB_HOST    = var.warehouse_address
    WAREHOUSE_DB_PORT    = tostring(var.warehouse_port)
    WAREHOUSE_DB_NAME    = var.warehouse_database
    WAREHOUSE_DB_USER    = var.warehouse_username
    WAREHOUSE_DB_SSLMODE = "require"
    LAKE_BUCKET          = var.lake_bucket_name
    S3_ENDPOINT_URL      = "https://s3.${local.region}.amazonaws.com"
    FAKESTORE_API_URL    = var.fakestore_api_url
  }

  worker_secrets = {
    WAREHOUSE_DB_PASSWORD = "${var.warehouse_credentials_arn}:password::"
    SHOP_DSN              = var.shop_dsn_credentials_arn
  }

  # `docker exec`-style health checks bypass the entrypoint, so they call it to get the DB URL.
  components = {
    apiserver = {
      command      = ["airflow", "api-server", "--port", "8080", "--proxy-headers"]
      cpu          = var.control_cpu
      memory       = var.control_memory
      task_role    = aws_iam_role.control.arn
      port         = 8080
      health_check = "curl --fail --silent --output /dev/null http://127.0.0.1:8080/api/v2/monitor/health"
      environment  = {}
      secrets      = { AIRFLOW_ADMIN_PASSWORD = aws_secretsmanager_secret.generated["admin_password"].arn }
    }
    scheduler = {
      command      = ["airflow", "scheduler"]
      cpu          = var.control_cpu
      memory       = var.control_memory
      task_role    = aws_iam_role.control.arn
      port         = null
      health_check = "curl --fail --silent --output /dev/null http://127.0.0.1:8974/health"
      environment  = {}
      secrets      = {}
    }
    dag-processor = {
      command      = ["python", "-m", "_dag_processor"]
      cpu          = var.control_cpu
      memory       = var.control_memory
      task_role    = aws_iam_role.control.arn
      port         = null
      health_check = "shopflow-entrypoint airflow jobs check --job-type DagProcessorJob --local"
      environment  = {}
      secrets      = {}
    }
    triggerer = {
      command      = ["airflow", "triggerer"]
      cpu          = var.control_cpu
      memory       = var.control_memory
      task_role    = aws_iam_role.control.arn
      port         = null
      health_check = "shopflow-entrypoint airflow jobs check --job-type TriggererJob --local"
      environment  = {}
      secrets      = {}
    }
    worker = {
      command      = ["airflow", "celery", "worker"]
      cpu          = var.worker_cpu
      memory       = var.worker_memory
      task_role    = aws_iam_role.worker.arn
      port         = null
      health_check = "shopflow-entrypoint celery --app airflow.providers.celery.executors.celery_executor.app inspect ping -d \"celery@$(hostname)\""
      environment  = local.worker_environment
      secrets      = local.worker_secrets
    }
    init = {
      command      = ["airflow-init"]
      cpu          = var.control_cpu
      memory       = var.control_memory
      task_role    = aws_iam_role.control.arn
      port         = null
      health_check = null
      environment  = {}
      secrets      = {}
    }
  }

  # Long-running services; "init" is a task definition only, run once per deploy.
  control_services = toset(["apiserver", "scheduler", "dag-processor", "triggerer"])
}

# --- image registry --------------------------------------------------------------------------------

resource "aws_ecr_repository" "this" {
  name                 = var.name
  image_tag_mutability = "IMMUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = var.kms_key_arn
  }

  tags = var.tags
}

resource "aws_ecr_lifecycle_policy" "this" {
  repository = aws_ecr_repository.this.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "Keep the last ${var.images_to_keep} images"
      selection = {
        tagStatus   = "any"
        countType   = "imageCountMoreThan"
        countNumber = var.images_to_keep
      }
      action = { type = "expire" }
    }]
  })
}

# --- generated secrets -------------------------------------------------------------------------------
# Generated here so no secret is ever typed into a variable. They are in the Terraform state, which is
# why the state lives in an encrypted, access-controlled S3 backend (backend.hcl.example).

resource "random_bytes" "fernet_key" {
  length = 32
}

resource "random_password" "generated" {
  for_each = {
    jwt_secret       = 64
    api_secret_key   = 64
    redis_auth_token = 64
    admin_password   = 24
  }

  length = each.value
  # ElastiCache auth tokens and URLs reject several punctuation marks; length gives the entropy.
  special = false
}

locals {
  generated_secrets = {
    # Fernet wants URL-safe base64 of 32 bytes.
    fernet_key       = replace(replace(random_bytes.fernet_key.base64, "+", "-"), "/", "_")
    jwt_secret       = random_password.generated["jwt_secret"].result
    api_secret_key   = random_password.generated["api_secret_key"].result
    redis_auth_token = random_password.generated["redis_auth_token"].result
    admin_password   = random_password.generated["admin_password"].result
  }
}

resource "aws_secretsmanager_secret" "generated" {
  #checkov:skip=CKV2_AWS_57:No rotation Lambda exists for Airflow keys; rotation is a coordinated redeploy (docs/deployment.md).
  for_each = toset(keys(local.generated_secrets))

  name                    = "${var.name}/airflow/${each.key}"
  description             = "Airflow ${each.key} for ${var.name} (generated by Terraform)"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.secret_recovery_window_days

  tags = var.tags
}

resource "aws_secretsmanager_secret_version" "generated" {
  for_each = aws_secretsmanager_secret.generated

  secret_id     = each.value.id
  secret_string = local.generated_secrets[each.key]
}

# --- network access ------------------------------------------------------------------------------------

resource "aws_security_group" "tasks" {
  name        = "${var.name}-airflow-tasks"
  description = "Airflow tasks on ECS (all components and workers)"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-airflow-tasks" })
}

resource "aws_vpc_security_group_ingress_rule" "tasks_from_alb" {
  security_group_id            = aws_security_group.tasks.id
  description                  = "api-server from the load balancer"
  referenced_security_group_id = aws_security_group.alb.id
  ip_protocol                  = "tcp"
  from_port                    = 8080
  to_port                      = 8080
}

resource "aws_vpc_security_group_ingress_rule" "tasks_from_tasks" {
  security_group_id            = aws_security_group.tasks.id
  description                  = "execution API from workers and triggerer"
  referenced_security_group_id = aws_security_group.tasks.id
  ip_protocol                  = "tcp"
  from_port                    = 8080
  to_port                      = 8080
}

resource "aws_vpc_security_group_egress_rule" "tasks_https" {
  security_group_id = aws_security_group.tasks.id
  description       = "AWS APIs (ECR, Secrets Manager, CloudWatch, S3) and the FakeStore API"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_security_group_egress_rule" "tasks_postgres" {
  for_each = toset(concat([var.vpc_cidr_block], var.shop_db_cidr_blocks))

  security_group_id = aws_security_group.tasks.id
  description       = "PostgreSQL (warehouse, metadata, shop source) in ${each.value}"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = 5432
  to_port           = 5432
}

resource "aws_vpc_security_group_egress_rule" "tasks_redis" {
  security_group_id            = aws_security_group.tasks.id
  description                  = "Celery broker"
  referenced_security_group_id = aws_security_group.redis.id
  ip_protocol                  = "tcp"
  from_port                    = 6379
  to_port                      = 6379
}

resource "aws_vpc_security_group_egress_rule" "tasks_execution_api" {
  security_group_id            = aws_security_group.tasks.id
  description                  = "execution API on the api-server"
  referenced_security_group_id = aws_security_group.tasks.id
  ip_protocol                  = "tcp"
  from_port                    = 8080
  to_port                      = 8080
}

resource "aws_security_group" "alb" {
  name        = "${var.name}-airflow-alb"
  description = "Internal load balancer in front of the Airflow api-server"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-airflow-alb" })
}

resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  for_each = toset(var.api_ingress_cidr_blocks)

  security_group_id = aws_security_group.alb.id
  description       = "HTTPS from ${each.value}"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_security_group_egress_rule" "alb_to_tasks" {
  security_group_id            = aws_security_group.alb.id
  description                  = "to the api-server tasks"
  referenced_security_group_id = aws_security_group.tasks.id
  ip_protocol                  = "tcp"
  from_port                    = 8080
  to_port                      = 8080
}

resource "aws_security_group" "redis" {
  name        = "${var.name}-celery-broker"
  description = "Celery broker: reachable from the Airflow tasks only"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-celery-broker" })
}

resource "aws_vpc_security_group_ingress_rule" "redis_from_tasks" {
  security_group_id            = aws_security_group.redis.id
  description                  = "Redis from the Airflow tasks"
  referenced_security_group_id = aws_security_group.tasks.id
  ip_protocol                  = "tcp"
  from_port                    = 6379
  to_port                      = 6379
}

# --- Celery broker ----------------------------------------------------------------------------------------

resource "aws_elasticache_subnet_group" "broker" {
  name       = "${var.name}-broker"
  subnet_ids = var.data_subnet_ids

  tags = var.tags
}

resource "aws_elasticache_replication_group" "broker" {
  #checkov:skip=CKV2_AWS_50:Node count is a variable; prod runs 2 nodes with failover (asserted by tests/test_infra.py), dev 1.
  replication_group_id = "${var.name}-broker"
  description          = "Celery broker for Airflow ${var.name}"
  engine               = "redis"
  engine_version       = "7.1"
  parameter_group_name = "default.redis7"
  node_type            = var.redis_node_type
  num_cache_clusters   = var.redis_node_count
  port                 = 6379

  automatic_failover_enabled = var.redis_node_count > 1
  multi_az_enabled           = var.redis_node_count > 1

  subnet_group_name  = aws_elasticache_subnet_group.broker.name
  security_group_ids = [aws_security_group.redis.id]

  at_rest_encryption_enabled = true
  kms_key_id                 = var.kms_key_arn
  transit_encryption_enabled = true
  auth_token                 = random_password.generated["redis_auth_token"].result

  snapshot_retention_limit   = 1
  auto_minor_version_upgrade = true

  tags = var.tags
}

# --- logs ---------------------------------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "components" {
  for_each = local.components

  name              = "/${var.name}/airflow/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

resource "aws_cloudwatch_log_group" "task_logs" {
  name              = "/${var.name}/airflow/task-logs"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

# --- IAM ------------------------------------------------------------------------------------------------------

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

# The execution role is ECS's own: pull the image, write container logs, read the secrets it injects.
resource "aws_iam_role" "execution" {
  name               = "${var.name}-airflow-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json

  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

data "aws_iam_policy_document" "execution_secrets" {
  statement {
    sid     = "ReadInjectedSecrets"
    actions = ["secretsmanager:GetSecretValue"]
    resources = concat(
      [for s in aws_secretsmanager_secret.generated : s.arn],
      [var.metadata_db_credentials_arn, var.warehouse_credentials_arn, var.shop_dsn_credentials_arn],
    )
  }

  statement {
    sid       = "DecryptInjectedSecrets"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "execution_secrets" {
  name   = "read-injected-secrets"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution_secrets.json
}

# Scheduler, api-server, dag-processor, triggerer: no data access, only the task log group.
resource "aws_iam_role" "control" {
  name               = "${var.name}-airflow-control"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json

  tags = var.tags
}

data "aws_iam_policy_document" "task_logs" {
  statement {
    sid = "ReadWriteTaskLogs"
    actions = [
      "logs:CreateLogStream",
      "logs:PutLogEvents",
      "logs:GetLogEvents",
      "logs:DescribeLogStreams",
      "logs:FilterLogEvents",
    ]
    resources = [
      aws_cloudwatch_log_group.task_logs.arn,
      "${aws_cloudwatch_log_group.task_logs.arn}:*",
    ]
  }
}

resource "aws_iam_role_policy" "control_task_logs" {
  name   = "task-logs"
  role   = aws_iam_role.control.id
  policy = data.aws_iam_policy_document.task_logs.json
}

# Workers run the pipeline: the lake (least privilege, from the data_lake module) and the task logs.
resource "aws_iam_role" "worker" {
  name               = "${var.name}-airflow-worker"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json

  tags = var.tags
}

resource "aws_iam_role_policy" "worker_lake" {
  name   = "lake-pipeline-access"
  role   = aws_iam_role.worker.id
  policy = var.lake_access_policy_json
}

resource "aws_iam_role_policy" "worker_task_logs" {
  name   = "task-logs"
  role   = aws_iam_role.worker.id
  policy = data.aws_iam_policy_document.task_logs.json
}

# --- ECS ---------------------------------------------------------------------------------------------------------

resource "aws_ecs_cluster" "this" {
  name = var.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  tags = var.tags
}

resource "aws_ecs_task_definition" "this" {
  for_each = local.components

  family                   = "${var.name}-airflow-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = each.value.cpu
  memory                   = each.value.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = each.value.task_role

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  container_definitions = jsonencode([merge(
    {
      name        = each.key
      image       = local.image
      essential   = true
      command     = each.value.command
      user        = "50000"
      environment = [for k, v in merge(local.common_environment, each.value.environment) : { name = k, value = v }]
      secrets     = [for k, v in merge(local.common_secrets, each.value.secrets) : { name = k, valueFrom = v }]
      portMappings = each.value.port == null ? [] : [{
        containerPort = each.value.port
        protocol      = "tcp"
      }]
      # Forwards SIGTERM so Celery finishes running tasks (warm shutdown) within stopTimeout.
      linuxParameters = { initProcessEnabled = true }
      stopTimeout     = 120
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.components[each.key].name
          awslogs-region        = local.region
          awslogs-stream-prefix = each.key
        }
      }
    },
    each.value.health_check == null ? {} : {
      healthCheck = {
        command     = ["CMD-SHELL", each.value.health_check]
        interval    = 30
        timeout     = 20
        retries     = 3
        startPeriod = 120
      }
    },
  )])

  tags = var.tags
}

resource "aws_service_discovery_private_dns_namespace" "this" {
  name        = local.namespace
  description = "Private names of the Airflow services of ${var.name}"
  vpc         = var.vpc_id

  tags = var.tags
}

resource "aws_service_discovery_service" "apiserver" {
  name = "apiserver"

  dns_config {
    namespace_id   = aws_service_discovery_private_dns_namespace.this.id
    routing_policy = "MULTIVALUE"

    dns_records {
      type = "A"
      ttl  = 10
    }
  }

  tags = var.tags
}

resource "aws_ecs_service" "control" {
  for_each = local.control_services

  name                   = each.key
  cluster                = aws_ecs_cluster.this.id
  task_definition        = aws_ecs_task_definition.this[each.key].arn
  desired_count          = each.key == "apiserver" ? var.apiserver_count : 1
  launch_type            = "FARGATE"
  propagate_tags         = "SERVICE"
  enable_execute_command = false

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.tasks.id]
    assign_public_ip = false
  }

  dynamic "load_balancer" {
    for_each = each.key == "apiserver" ? [1] : []

    content {
      target_group_arn = aws_lb_target_group.apiserver.arn
      container_name   = "apiserver"
      container_port   = 8080
    }
  }

  dynamic "service_registries" {
    for_each = each.key == "apiserver" ? [1] : []

    content {
      registry_arn = aws_service_discovery_service.apiserver.arn
    }
  }

  depends_on = [aws_lb_listener.https]

  tags = var.tags
}

resource "aws_ecs_service" "worker" {
  name                   = "worker"
  cluster                = aws_ecs_cluster.this.id
  task_definition        = aws_ecs_task_definition.this["worker"].arn
  desired_count          = var.worker_min_count
  launch_type            = "FARGATE"
  propagate_tags         = "SERVICE"
  enable_execute_command = false

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.tasks.id]
    assign_public_ip = false
  }

  # The autoscaler owns the worker count after creation.
  lifecycle {
    ignore_changes = [desired_count]
  }

  tags = var.tags
}

resource "aws_appautoscaling_target" "worker" {
  service_namespace  = "ecs"
  scalable_dimension = "ecs:service:DesiredCount"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.worker.name}"
  min_capacity       = var.worker_min_count
  max_capacity       = var.worker_max_count
}

resource "aws_appautoscaling_policy" "worker_cpu" {
  name               = "${var.name}-worker-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.worker.service_namespace
  scalable_dimension = aws_appautoscaling_target.worker.scalable_dimension
  resource_id        = aws_appautoscaling_target.worker.resource_id

  target_tracking_scaling_policy_configuration {
    target_value = var.worker_target_cpu_percent

    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }

    scale_out_cooldown = 60
    # Scaling in stops a worker (running tasks get stopTimeout to finish): do it reluctantly.
    scale_in_cooldown = 900
  }
}

# --- load balancer for people (UI and REST API) ---------------------------------------------------------------

resource "aws_lb" "api" {
  #checkov:skip=CKV_AWS_150:deletion_protection is a variable; prod sets it (asserted by tests/test_infra.py), dev can be destroyed.
  name                       = substr("${var.name}-airflow", 0, 32)
  internal                   = true
  load_balancer_type         = "application"
  subnets                    = var.private_subnet_ids
  security_groups            = [aws_security_group.alb.id]
  drop_invalid_header_fields = true
  deletion_protection        = var.deletion_protection

  dynamic "access_logs" {
    for_each = var.alb_access_log_bucket == null ? [] : [var.alb_access_log_bucket]

    content {
      bucket  = access_logs.value
      prefix  = "alb/${var.name}-airflow"
      enabled = true
    }
  }

  tags = var.tags
}

resource "aws_lb_target_group" "apiserver" {
  name        = substr("${var.name}-apiserver", 0, 32)
  port        = 8080
  protocol    = "HTTP"
  target_type = "ip"
  vpc_id      = var.vpc_id

  health_check {
    path                = "/api/v2/monitor/health"
    matcher             = "200"
    interval            = 30
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }

  tags = var.tags
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.api.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.apiserver.arn
  }

  tags = var.tags
}
