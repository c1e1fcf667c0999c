# One member cluster of an Aurora PostgreSQL global database, with its instances. The primary
# holds the master credentials; secondaries must not set them (AWS rejects them for
# cross-region replicas) and follow the global cluster for engine upgrades.

data "aws_partition" "current" {}

locals {
  is_primary = var.role == "primary"
  family     = "aurora-postgresql${split(".", var.engine_version)[0]}"
}

resource "aws_db_subnet_group" "this" {
  region      = var.region
  name        = var.name
  description = "${var.name}: database subnets"
  subnet_ids  = var.subnet_ids
  tags        = var.tags
}

resource "aws_security_group" "this" {
  region      = var.region
  name_prefix = "${var.name}-postgres-"
  description = "Aurora PostgreSQL ${var.name}: EKS nodes of this and peered sites"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-postgres" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "postgres" {
  for_each = toset(var.allowed_cidrs)

  region            = var.region
  security_group_id = aws_security_group.this.id
  description       = "PostgreSQL from ${each.value}"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = 5432
  to_port           = 5432
  tags              = var.tags
}

resource "aws_rds_cluster_parameter_group" "this" {
  region      = var.region
  name_prefix = "${var.name}-"
  family      = local.family
  description = "${var.name}: TLS only, DDL, slow-statement and connection logging"
  tags        = var.tags

  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }

  parameter {
    name  = "log_connections"
    value = "1"
  }

  parameter {
    name  = "log_disconnections"
    value = "1"
  }

  parameter {
    name  = "log_statement"
    value = "ddl"
  }

  parameter {
    name  = "log_min_duration_statement"
    value = "1000"
  }

  parameter {
    name         = "rds.logical_replication"
    value        = var.logical_replication ? "1" : "0"
    apply_method = "pending-reboot"
  }

  lifecycle {
    create_before_destroy = true
  }
}

# RDS creates the log group of an exported log on first use, with no retention, no key and no
# tags, and Terraform would then fail to create it. Made here first, before the cluster exports
# to it, it keeps the logs as long as the site's other logs, encrypted with the site's key.
resource "aws_cloudwatch_log_group" "postgresql" {
  region            = var.region
  name              = "/aws/rds/cluster/${var.name}/postgresql"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_rds_cluster" "this" {
  # checkov:skip=CKV2_AWS_8:backups are Aurora's continuous backups (backup_retention_period) plus cross-region copies in every secondary; an AWS Backup plan is an account-level choice
  region                          = var.region
  cluster_identifier              = var.name
  engine                          = "aurora-postgresql"
  engine_version                  = var.engine_version
  global_cluster_identifier       = var.global_cluster_identifier
  database_name                   = local.is_primary ? var.database_name : null
  master_username                 = local.is_primary ? var.master_username : null
  master_password                 = local.is_primary ? var.master_password : null
  db_subnet_group_name            = aws_db_subnet_group.this.name
  vpc_security_group_ids          = [aws_security_group.this.id]
  db_cluster_parameter_group_name = aws_rds_cluster_parameter_group.this.name
  storage_encrypted               = true
  kms_key_id                      = var.kms_key_arn
  backup_retention_period         = var.backup_retention_days
  preferred_backup_window         = "02:00-03:00"
  preferred_maintenance_window    = "sun:04:00-sun:05:00"
  copy_tags_to_snapshot           = true
  deletion_protection             = var.deletion_protection
  # The primary keeps a final snapshot. A secondary holds the primary's data, and asking RDS for
  # a final snapshot of a replica fails its deletion (InvalidParameterCombination).
  skip_final_snapshot                 = !local.is_primary
  final_snapshot_identifier           = local.is_primary ? "${var.name}-final" : null
  enabled_cloudwatch_logs_exports     = ["postgresql"]
  iam_database_authentication_enabled = true
  tags                                = var.tags

  depends_on = [aws_cloudwatch_log_group.postgresql]

  lifecycle {
    # Engine upgrades go through the global cluster; secondaries get replication settings
    # from it.
    ignore_changes = [engine_version, replication_source_identifier, global_cluster_identifier]
  }
}

data "aws_iam_policy_document" "monitoring_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["monitoring.rds.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "monitoring" {
  name_prefix        = "${substr(var.name, 0, 26)}-rdsmon-"
  assume_role_policy = data.aws_iam_policy_document.monitoring_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "monitoring" {
  role       = aws_iam_role.monitoring.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}

resource "aws_rds_cluster_instance" "this" {
  count = var.instance_count

  region                                = var.region
  identifier                            = "${var.name}-${count.index + 1}"
  cluster_identifier                    = aws_rds_cluster.this.id
  engine                                = aws_rds_cluster.this.engine
  instance_class                        = var.instance_class
  publicly_accessible                   = false
  auto_minor_version_upgrade            = true
  performance_insights_enabled          = true
  performance_insights_kms_key_id       = var.kms_key_arn
  performance_insights_retention_period = 7
  monitoring_interval                   = 60
  monitoring_role_arn                   = aws_iam_role.monitoring.arn
  copy_tags_to_snapshot                 = true
  tags                                  = var.tags

  lifecycle {
    ignore_changes = [engine_version]
  }
}
