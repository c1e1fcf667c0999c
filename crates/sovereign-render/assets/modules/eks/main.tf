# One EKS cluster: control plane with encrypted secrets and full logging, a private endpoint
# (and a public one limited to given ranges), access entries, the node role, the add-ons the
# rest needs, and Pod Identity roles for the EBS CSI driver, the cluster autoscaler and the
# load balancer controller.

data "aws_partition" "current" {}

data "aws_caller_identity" "current" {}

locals {
  partition = data.aws_partition.current.partition
  account   = data.aws_caller_identity.current.account_id
  # Ports pods of peered sites may use: Cassandra internode (7000, 7001 with TLS), CQL (9042),
  # the Cassandra management API (8080) and metrics (9000, 9100). One rule per peered VPC and
  # port range: a security group holds 60 inbound rules by default, and the sovereign check
  # (SOV046) counts these against that quota.
  peer_ports = [
    { from = 7000, to = 7001 },
    { from = 8080, to = 8080 },
    { from = 9000, to = 9000 },
    { from = 9042, to = 9042 },
    { from = 9100, to = 9100 },
  ]
  peer_rules = { for pair in setproduct(var.peer_cidrs, local.peer_ports) : "${pair[0]}:${pair[1].from}-${pair[1].to}" => { cidr = pair[0], from = pair[1].from, to = pair[1].to } }
}

data "aws_iam_policy_document" "cluster_assume" {
  statement {
    actions = ["sts:AssumeRole", "sts:TagSession"]

    principals {
      type        = "Service"
      identifiers = ["eks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "cluster" {
  name_prefix        = "${substr(var.name, 0, 28)}-eks-"
  assume_role_policy = data.aws_iam_policy_document.cluster_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "cluster" {
  role       = aws_iam_role.cluster.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/AmazonEKSClusterPolicy"
}

resource "aws_cloudwatch_log_group" "cluster" {
  region            = var.region
  name              = "/aws/eks/${var.name}/cluster"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_eks_cluster" "this" {
  # checkov:skip=CKV_AWS_39:the public endpoint is on only when public_access_cidrs lists operator ranges (CKV_AWS_38 keeps 0.0.0.0/0 out); an empty list turns it off
  region                    = var.region
  name                      = var.name
  version                   = var.kubernetes_version
  role_arn                  = aws_iam_role.cluster.arn
  enabled_cluster_log_types = ["api", "audit", "authenticator", "controllerManager", "scheduler"]

  vpc_config {
    subnet_ids              = var.subnet_ids
    endpoint_private_access = true
    endpoint_public_access  = length(var.public_access_cidrs) > 0
    public_access_cidrs     = length(var.public_access_cidrs) > 0 ? var.public_access_cidrs : null
  }

  encryption_config {
    resources = ["secrets"]

    provider {
      key_arn = var.kms_key_arn
    }
  }

  access_config {
    authentication_mode                         = "API"
    bootstrap_cluster_creator_admin_permissions = true
  }

  upgrade_policy {
    support_type = var.extended_support ? "EXTENDED" : "STANDARD"
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy_attachment.cluster, aws_cloudwatch_log_group.cluster]
}

resource "aws_eks_access_entry" "admin" {
  for_each = toset(var.admin_principal_arns)

  region        = var.region
  cluster_name  = aws_eks_cluster.this.name
  principal_arn = each.value
  tags          = var.tags
}

resource "aws_eks_access_policy_association" "admin" {
  for_each = toset(var.admin_principal_arns)

  region        = var.region
  cluster_name  = aws_eks_cluster.this.name
  principal_arn = each.value
  policy_arn    = "arn:${local.partition}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"

  access_scope {
    type = "cluster"
  }

  depends_on = [aws_eks_access_entry.admin]
}

# Pods of peered sites reach this cluster's pods directly (VPC CNI gives pods VPC addresses).
resource "aws_vpc_security_group_ingress_rule" "peer" {
  for_each = local.peer_rules

  region            = var.region
  security_group_id = aws_eks_cluster.this.vpc_config[0].cluster_security_group_id
  description       = "peered VPC ${each.value.cidr}, ports ${each.value.from}-${each.value.to}"
  cidr_ipv4         = each.value.cidr
  ip_protocol       = "tcp"
  from_port         = each.value.from
  to_port           = each.value.to
  tags              = var.tags
}

# The role every managed node group of this cluster uses.
data "aws_iam_policy_document" "node_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "node" {
  name_prefix        = "${substr(var.name, 0, 27)}-node-"
  assume_role_policy = data.aws_iam_policy_document.node_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "node" {
  for_each = toset([
    "AmazonEKSWorkerNodePolicy",
    "AmazonEKS_CNI_Policy",
    "AmazonEC2ContainerRegistryPullOnly",
    "AmazonSSMManagedInstanceCore",
  ])

  role       = aws_iam_role.node.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/${each.value}"
}

resource "aws_eks_addon" "this" {
  for_each = toset(["vpc-cni", "kube-proxy", "eks-pod-identity-agent"])

  region                      = var.region
  cluster_name                = aws_eks_cluster.this.name
  addon_name                  = each.value
  resolve_conflicts_on_create = "OVERWRITE"
  resolve_conflicts_on_update = "PRESERVE"
  tags                        = var.tags

  # The VPC CNI translates the source of pod traffic leaving this VPC's range to the node's
  # address. Across the peering mesh pods talk to pods (Cassandra between datacenters, the
  # sites' metrics): they must keep their own addresses, or replies and the peer's view of who
  # connected go to the node instead.
  configuration_values = each.value == "vpc-cni" && length(var.peer_cidrs) > 0 ? jsonencode({
    env = { AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS = join(",", var.peer_cidrs) }
  }) : null
}

# Add-ons that need nodes to run on wait for the node groups (passed in by name, so the root
# can create the groups from this module's outputs without a cycle).
resource "terraform_data" "nodes_ready" {
  input = var.node_group_names
}

resource "aws_eks_addon" "after_nodes" {
  for_each = toset(["coredns", "aws-ebs-csi-driver"])

  region                      = var.region
  cluster_name                = aws_eks_cluster.this.name
  addon_name                  = each.value
  resolve_conflicts_on_create = "OVERWRITE"
  resolve_conflicts_on_update = "PRESERVE"
  tags                        = var.tags

  dynamic "pod_identity_association" {
    for_each = each.value == "aws-ebs-csi-driver" ? [1] : []

    content {
      role_arn        = aws_iam_role.pod["ebs-csi"].arn
      service_account = "ebs-csi-controller-sa"
    }
  }

  depends_on = [aws_eks_addon.this, terraform_data.nodes_ready]
}

# Pod Identity roles for the cluster's controllers.
data "aws_iam_policy_document" "pod_assume" {
  statement {
    actions = ["sts:AssumeRole", "sts:TagSession"]

    principals {
      type        = "Service"
      identifiers = ["pods.eks.amazonaws.com"]
    }

    # Only for this account's clusters: the service principal is shared by every account.
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

resource "aws_iam_role" "pod" {
  for_each = toset(["ebs-csi", "cluster-autoscaler", "lb-controller"])

  name_prefix        = "${substr(var.name, 0, 20)}-${substr(each.value, 0, 10)}-"
  assume_role_policy = data.aws_iam_policy_document.pod_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "ebs_csi" {
  role       = aws_iam_role.pod["ebs-csi"].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"
}

resource "aws_iam_role_policy" "ebs_csi_kms" {
  name   = "use-site-kms-key"
  role   = aws_iam_role.pod["ebs-csi"].id
  policy = data.aws_iam_policy_document.ebs_csi_kms.json
}

data "aws_iam_policy_document" "ebs_csi_kms" {
  statement {
    actions   = ["kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"]
    resources = [var.kms_key_arn]
  }
}

# The cluster autoscaler changes the size of this cluster's node groups only (EKS tags their
# Auto Scaling groups with the cluster name).
resource "aws_iam_role_policy" "cluster_autoscaler" {
  name   = "scale-node-groups"
  role   = aws_iam_role.pod["cluster-autoscaler"].id
  policy = data.aws_iam_policy_document.cluster_autoscaler.json
}

data "aws_iam_policy_document" "cluster_autoscaler" {
  # checkov:skip=CKV_AWS_356:Describe* calls of Auto Scaling, EC2 and EKS do not support resource-level permissions
  statement {
    sid = "Read"
    actions = [
      "autoscaling:DescribeAutoScalingGroups",
      "autoscaling:DescribeAutoScalingInstances",
      "autoscaling:DescribeLaunchConfigurations",
      "autoscaling:DescribeScalingActivities",
      "autoscaling:DescribeTags",
      "ec2:DescribeImages",
      "ec2:DescribeInstanceTypes",
      "ec2:DescribeLaunchTemplateVersions",
      "ec2:GetInstanceTypesFromInstanceRequirements",
      "eks:DescribeNodegroup",
    ]
    resources = ["*"]
  }

  statement {
    sid       = "ScaleOwnGroups"
    actions   = ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/k8s.io/cluster-autoscaler/${var.name}"
      values   = ["owned"]
    }
  }
}

# The load balancer controller only binds pods to target groups Terraform created
# (TargetGroupBinding); it creates no load balancers, so it needs no create permissions.
resource "aws_iam_role_policy" "lb_controller" {
  name   = "bind-target-groups"
  role   = aws_iam_role.pod["lb-controller"].id
  policy = data.aws_iam_policy_document.lb_controller.json
}

data "aws_iam_policy_document" "lb_controller" {
  # checkov:skip=CKV_AWS_356:Describe* calls of ELB and EC2 do not support resource-level permissions
  statement {
    sid = "Read"
    actions = [
      "ec2:DescribeAvailabilityZones",
      "ec2:DescribeInstances",
      "ec2:DescribeNetworkInterfaces",
      "ec2:DescribeSecurityGroups",
      "ec2:DescribeSubnets",
      "ec2:DescribeVpcs",
      "elasticloadbalancing:DescribeListeners",
      "elasticloadbalancing:DescribeLoadBalancers",
      "elasticloadbalancing:DescribeTags",
      "elasticloadbalancing:DescribeTargetGroups",
      "elasticloadbalancing:DescribeTargetHealth",
    ]
    resources = ["*"]
  }

  statement {
    sid     = "RegisterTargets"
    actions = ["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"]
    # The target groups this deployment creates (the edge's `app-`, the global Prometheus's
    # `prom-`), in this account only.
    resources = [
      "arn:${local.partition}:elasticloadbalancing:${var.region}:${local.account}:targetgroup/app-*/*",
      "arn:${local.partition}:elasticloadbalancing:${var.region}:${local.account}:targetgroup/prom-*/*",
    ]
  }

  # No ec2:AuthorizeSecurityGroupIngress: the TargetGroupBindings carry no `networking` section,
  # so the controller opens no port; the global root opens the pod ports itself.
}

resource "aws_eks_pod_identity_association" "this" {
  for_each = {
    cluster-autoscaler = { namespace = "kube-system", service_account = "cluster-autoscaler" }
    lb-controller      = { namespace = "kube-system", service_account = "aws-load-balancer-controller" }
  }

  region          = var.region
  cluster_name    = aws_eks_cluster.this.name
  namespace       = each.value.namespace
  service_account = each.value.service_account
  role_arn        = aws_iam_role.pod[each.key].arn
  tags            = var.tags
}
