# The private link between a Fly.io organisation's private network (6PN) and one AWS site:
# an EC2 gateway that joins the Fly.io network as a WireGuard peer (outbound UDP through NAT,
# no inbound port open to the internet) and forwards PostgreSQL from the Fly.io side to the
# Aurora writer. Its WireGuard configuration comes from `fly wireguard create` and is kept in
# Secrets Manager; the flyctl plan stores it there.

data "aws_partition" "current" {}

data "aws_ssm_parameter" "al2023" {
  region = var.region
  name   = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
}

resource "aws_secretsmanager_secret" "wireguard" {
  # checkov:skip=CKV2_AWS_57:the WireGuard key pair is issued by Fly.io (`fly wireguard create`); rotating means creating a new peer and replacing the value, which the flyctl plan documents
  region                  = var.region
  name_prefix             = "${var.name}-wireguard-"
  description             = "WireGuard configuration of the Fly.io peer ${var.name} (set by the flyctl plan)"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = 7
  tags                    = var.tags
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

resource "aws_iam_role" "gateway" {
  name_prefix        = "${substr(var.name, 0, 28)}-gw-"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "ssm" {
  role       = aws_iam_role.gateway.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

resource "aws_iam_role_policy" "read_config" {
  name   = "read-wireguard-config"
  role   = aws_iam_role.gateway.id
  policy = data.aws_iam_policy_document.read_config.json
}

data "aws_iam_policy_document" "read_config" {
  statement {
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.wireguard.arn]
  }

  statement {
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_instance_profile" "gateway" {
  name_prefix = "${substr(var.name, 0, 28)}-gw-"
  role        = aws_iam_role.gateway.name
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
  region                      = var.region
  ami                         = data.aws_ssm_parameter.al2023.insecure_value
  instance_type               = var.instance_type
  subnet_id                   = var.subnet_id
  vpc_security_group_ids      = [aws_security_group.gateway.id]
  iam_instance_profile        = aws_iam_instance_profile.gateway.name
  associate_public_ip_address = false
  source_dest_check           = false
  ebs_optimized               = true
  monitoring                  = true
  user_data = templatefile("${path.module}/gateway.sh.tftpl", {
    region        = var.region
    secret_arn    = aws_secretsmanager_secret.wireguard.arn
    upstream_host = var.upstream_host
  })
  user_data_replace_on_change = true
  tags                        = merge(var.tags, { Name = var.name })

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
