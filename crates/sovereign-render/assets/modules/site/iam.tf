# IAM roles for the pods of this site that call AWS (EKS Pod Identity): Alertmanager on the
# global monitoring site, Cassandra's Medusa containers where a datacenter runs. Each role trusts
# only Pod Identity in this account, for one service account in one namespace of this cluster,
# and is bound to that service account by an association.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  pod_roles = merge(
    var.global_monitoring == null ? {} : {
      alertmanager = {
        namespace       = "monitoring"
        service_account = var.global_monitoring.alertmanager_service_account
      }
    },
    local.medusa == null ? {} : {
      medusa = {
        namespace       = "k8ssandra"
        service_account = local.medusa.service_account
      }
    },
  )
}

data "aws_iam_policy_document" "pod_assume" {
  for_each = local.pod_roles

  statement {
    actions = ["sts:AssumeRole", "sts:TagSession"]

    principals {
      type        = "Service"
      identifiers = ["pods.eks.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/eks-cluster-name"
      values   = [var.cluster_name]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/kubernetes-namespace"
      values   = [each.value.namespace]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/kubernetes-service-account"
      values   = [each.value.service_account]
    }
  }
}

resource "aws_iam_role" "pod" {
  for_each = local.pod_roles

  name_prefix        = "${substr(var.cluster_name, 0, 24)}-${substr(each.key, 0, 8)}-"
  assume_role_policy = data.aws_iam_policy_document.pod_assume[each.key].json
}

resource "aws_eks_pod_identity_association" "pod" {
  for_each = local.pod_roles

  region          = var.region
  cluster_name    = var.cluster_name
  namespace       = each.value.namespace
  service_account = each.value.service_account
  role_arn        = aws_iam_role.pod[each.key].arn
}
