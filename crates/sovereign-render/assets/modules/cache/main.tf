# A Redis OSS replication group: Multi-AZ with automatic failover, encrypted at rest (site KMS
# key) and in transit, AUTH required, slow log to CloudWatch Logs. In a global datastore,
# secondaries take engine, node type and parameters from the primary.

locals {
  # Known at plan time: the global datastore's id is not, so it cannot decide what exists.
  secondary = var.global_secondary
  family    = "redis${split(".", var.engine_version)[0]}"
}

resource "aws_elasticache_subnet_group" "this" {
  region      = var.region
  name        = var.name
  description = "${var.name}: private subnets"
  subnet_ids  = var.subnet_ids
  tags        = var.tags
}

resource "aws_security_group" "this" {
  region      = var.region
  name_prefix = "${var.name}-redis-"
  description = "ElastiCache ${var.name}: clients in the site's private subnets"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-redis" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "redis" {
  for_each = toset(var.allowed_cidrs)

  region            = var.region
  security_group_id = aws_security_group.this.id
  description       = "Redis from ${each.value}"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = 6379
  to_port           = 6379
  tags              = var.tags
}

resource "aws_elasticache_parameter_group" "this" {
  count = local.secondary ? 0 : 1

  region      = var.region
  name        = var.name
  family      = local.family
  description = "${var.name}: eviction policy"
  tags        = var.tags

  parameter {
    name  = "maxmemory-policy"
    value = var.maxmemory_policy
  }
}

resource "aws_cloudwatch_log_group" "slow_log" {
  region            = var.region
  name              = "/sovereign/${var.name}/redis-slow-log"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_elasticache_replication_group" "this" {
  region                      = var.region
  replication_group_id        = var.name
  description                 = "${var.name} cache"
  global_replication_group_id = var.global_replication_group_id
  engine                      = local.secondary ? null : "redis"
  engine_version              = local.secondary ? null : var.engine_version
  node_type                   = local.secondary ? null : var.node_type
  parameter_group_name        = local.secondary ? null : aws_elasticache_parameter_group.this[0].name
  num_cache_clusters          = 1 + var.replicas
  automatic_failover_enabled  = true
  multi_az_enabled            = true
  subnet_group_name           = aws_elasticache_subnet_group.this.name
  security_group_ids          = [aws_security_group.this.id]
  at_rest_encryption_enabled  = true
  kms_key_id                  = var.kms_key_arn
  transit_encryption_enabled  = true
  auth_token                  = var.auth_token
  auth_token_update_strategy  = "ROTATE"
  snapshot_retention_limit    = 7
  snapshot_window             = "03:00-04:00"
  maintenance_window          = "sun:05:00-sun:06:00"
  auto_minor_version_upgrade  = true
  apply_immediately           = false
  tags                        = var.tags

  log_delivery_configuration {
    destination      = aws_cloudwatch_log_group.slow_log.name
    destination_type = "cloudwatch-logs"
    log_format       = "json"
    log_type         = "slow-log"
  }
}
