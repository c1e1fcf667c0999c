# The private link between a Fly.io organisation's private network (6PN) and one AWS site:
# two EC2 gateways in two zones, each its own WireGuard peer of the Fly.io network (outbound UDP
# through NAT, no inbound port open to the internet), each forwarding PostgreSQL from the Fly.io
# side to the Aurora writer. The logical replica lists both (libpq multi-host), so the loss of
# one gateway or one zone does not stop replication. Each gateway's WireGuard configuration
# comes from `fly wireguard create` and is kept in its own Secrets Manager secret; the flyctl
# plan stores it there.

data "aws_partition" "current" {}

data "aws_ssm_parameter" "al2023" {
  region = var.region
  name   = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
}

resource "aws_secretsmanager_secret" "wireguard" {
  # checkov:skip=CKV2_AWS_57:the WireGuard key pair is issued by Fly.io (`fly wireguard create`); rotating means creating a new peer and replacing the value, which the flyctl plan documents
  for_each = var.gateways

  region                  = var.region
  name_prefix             = "${var.name}-${each.key}-wireguard-"
  description             = "WireGuard configuration of the Fly.io peer ${var.name}-${each.key} (set by the flyctl plan)"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = 7
  tags                    = merge(var.tags, { "sovereign:gateway" = each.key })
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

# One role per gateway: each reads its own peer configuration, not the other's.
resource "aws_iam_role" "gateway" {
  for_each = var.gateways

  name_prefix        = "${substr(var.name, 0, 26)}-${each.key}-gw-"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "ssm" {
  for_each = var.gateways

  role       = aws_iam_role.gateway[each.key].name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

resource "aws_iam_role_policy" "read_config" {
  for_each = var.gateways

  name   = "read-wireguard-config"
  role   = aws_iam_role.gateway[each.key].id
  policy = data.aws_iam_policy_document.read_config[each.key].json
}

data "aws_iam_policy_document" "read_config" {
  for_each = var.gateways

  statement {
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.wireguard[each.key].arn]
  }

  statement {
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_instance_profile" "gateway" {
  for_each = var.gateways

  name_prefix = "${substr(var.name, 0, 26)}-${each.key}-gw-"
  role        = aws_iam_role.gateway[each.key].name
  tags        = var.tags
}

resource "aws_security_group" "gateway" {
  region      = var.region
  name_prefix = "${var.name}-"
  description = "WireGuard gateway ${var.name}: out to Fly.io and to PostgreSQL, nothing in"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = var.name })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_egress_rule" "wireguard" {
  region            = var.region
  security_group_id = aws_security_group.gateway.id
  description       = "WireGuard to the Fly.io gateway"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "udp"
  from_port         = 51820
  to_port           = 51820
  tags              = var.tags
}

resource "aws_vpc_security_group_egress_rule" "https" {
  region            = var.region
  security_group_id = aws_security_group.gateway.id
  description       = "package installation and AWS APIs"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  tags              = var.tags
}

resource "aws_vpc_security_group_egress_rule" "postgres" {
  region            = var.region
  security_group_id = aws_security_group.gateway.id
  description       = "PostgreSQL to Aurora"
  cidr_ipv4         = "10.0.0.0/8"
  ip_protocol       = "tcp"
  from_port         = 5432
  to_port           = 5432
  tags              = var.tags
}

resource "aws_vpc_security_group_egress_rule" "dns" {
  region            = var.region
  security_group_id = aws_security_group.gateway.id
  description       = "DNS (the Aurora endpoint moves on failover)"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "udp"
  from_port         = 53
  to_port           = 53
  tags              = var.tags
}

resource "aws_instance" "gateway" {
  for_each = var.gateways

  region                      = var.region
  ami                         = data.aws_ssm_parameter.al2023.insecure_value
  instance_type               = var.instance_type
  subnet_id                   = each.value.subnet_id
  vpc_security_group_ids      = [aws_security_group.gateway.id]
  iam_instance_profile        = aws_iam_instance_profile.gateway[each.key].name
  associate_public_ip_address = false
  source_dest_check           = false
  ebs_optimized               = true
  monitoring                  = true
  user_data = templatefile("${path.module}/gateway.sh.tftpl", {
    gateway       = each.key
    region        = var.region
    secret_arn    = aws_secretsmanager_secret.wireguard[each.key].arn
    upstream_host = var.upstream_host
  })
  user_data_replace_on_change = true
  tags                        = merge(var.tags, { Name = "${var.name}-${each.key}", "sovereign:gateway" = each.key, "sovereign:zone" = each.value.zone_id })

  metadata_options {
    http_endpoint = "enabled"
    http_tokens   = "required"
  }

  root_block_device {
    volume_type = "gp3"
    volume_size = 16
    encrypted   = true
    kms_key_id  = var.kms_key_arn
  }

  lifecycle {
    ignore_changes = [ami]
  }
}

# A link had one gateway before: keep its secret (and the Fly.io peer stored in it) as gateway `a`.
moved {
  from = aws_secretsmanager_secret.wireguard
  to   = aws_secretsmanager_secret.wireguard["a"]
}

moved {
  from = aws_iam_role.gateway
  to   = aws_iam_role.gateway["a"]
}

moved {
  from = aws_iam_role_policy_attachment.ssm
  to   = aws_iam_role_policy_attachment.ssm["a"]
}

moved {
  from = aws_iam_role_policy.read_config
  to   = aws_iam_role_policy.read_config["a"]
}

moved {
  from = aws_iam_instance_profile.gateway
  to   = aws_iam_instance_profile.gateway["a"]
}

moved {
  from = aws_instance.gateway
  to   = aws_instance.gateway["a"]
}
