locals {
  environment = "prod"
  name        = "shopflow-${local.environment}"

  # Zone names are pinned so that a zone added to the region never moves the subnets.
  availability_zones = [for suffix in ["a", "b", "c"] : "${var.region}${suffix}"]

  tags = merge(var.extra_tags, {
    Project     = "shopflow"
    Environment = local.environment
    ManagedBy   = "terraform"
  })
}
