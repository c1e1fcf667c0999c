# One managed node group. Volumes are encrypted gp3 and instance metadata requires IMDSv2 with a
# hop limit of 1, so pods cannot borrow the node's role: they get their own through Pod Identity.

# The provider's default tags: a launch template's tag specifications do not get them, and the
# instances and volumes it launches are the largest part of the bill the budgets filter by tag.
data "aws_default_tags" "current" {}

locals {
  launched_tags = merge(data.aws_default_tags.current.tags, var.tags)

  # One group over every subnet, or one group per subnet (zone). A zonal group is what a pod
  # with a zonal volume needs: when its node goes, the cluster autoscaler can add a node in that
  # volume's zone only by growing that zone's group (it balances the groups otherwise). The
  # sizes are split over the zones: min and desired exactly, max rounded up so every zone can
  # grow.
  zones = length(var.subnet_ids)
  groups = var.one_group_per_zone ? {
    for i in range(local.zones) : format("%s-%d", var.name, i + 1) => {
      subnet_ids   = [var.subnet_ids[i]]
      min_size     = floor(var.min_size / local.zones) + (i < var.min_size % local.zones ? 1 : 0)
      desired_size = floor(var.desired_size / local.zones) + (i < var.desired_size % local.zones ? 1 : 0)
      max_size     = max(ceil(var.max_size / local.zones), 1)
    }
    } : {
    (var.name) = {
      subnet_ids   = var.subnet_ids
      min_size     = var.min_size
      desired_size = var.desired_size
      max_size     = var.max_size
    }
  }
}

resource "aws_launch_template" "this" {
  region                 = var.region
  name_prefix            = "${var.cluster_name}-${var.name}-"
  update_default_version = true

  block_device_mappings {
    device_name = "/dev/xvda"

    ebs {
      volume_size           = var.disk_size_gib
      volume_type           = "gp3"
      encrypted             = true
      kms_key_id            = var.kms_key_arn
      delete_on_termination = true
    }
  }

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  monitoring {
    enabled = true
  }

  tag_specifications {
    resource_type = "instance"
    tags          = merge(local.launched_tags, { Name = "${var.cluster_name}-${var.name}" })
  }

  tag_specifications {
    resource_type = "volume"
    tags          = local.launched_tags
  }

  tags = var.tags
}

resource "aws_eks_node_group" "this" {
  for_each = local.groups

  region          = var.region
  cluster_name    = var.cluster_name
  node_group_name = each.key
  node_role_arn   = var.node_role_arn
  subnet_ids      = each.value.subnet_ids
  capacity_type   = var.capacity_type
  ami_type        = var.ami_type
  instance_types  = var.instance_types

  labels = {
    "sovereign.dev/capacity" = lower(var.capacity_type)
  }

  launch_template {
    id      = aws_launch_template.this.id
    version = aws_launch_template.this.latest_version
  }

  scaling_config {
    min_size     = each.value.min_size
    desired_size = each.value.desired_size
    max_size     = each.value.max_size
  }

  update_config {
    max_unavailable_percentage = 33
  }

  tags = var.tags

  lifecycle {
    # The cluster autoscaler moves the desired size between min and max.
    ignore_changes = [scaling_config[0].desired_size]
  }
}
