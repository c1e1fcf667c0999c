# Cassandra backups with Medusa (k8ssandra): every Cassandra pod carries a Medusa container that
# writes snapshots to one S3 bucket per cluster (k8ssandra configures storage per cluster, not
# per datacenter). The bucket is created by the site root of the first datacenter, in its region,
# encrypted with that site's key; its name is fixed (`<prefix>-<account id>`), so every
# datacenter's root can grant access to it whatever order the roots are applied in. On every
# datacenter's cluster the Cassandra pods run as a service account whose Pod Identity role may
# read and write that bucket only, and use its key only through S3; a MedusaBackupSchedule backs
# the datacenter up every day.

locals {
  medusa        = var.cassandra == null ? null : var.cassandra.medusa
  medusa_bucket = local.medusa == null ? "" : "${local.medusa.bucket_prefix}-${data.aws_caller_identity.current.account_id}"
  medusa_owner  = local.medusa != null && try(local.medusa.create_bucket, false)
  medusa_arn    = "arn:${data.aws_partition.current.partition}:s3:::${local.medusa_bucket}"
}

resource "aws_s3_bucket" "medusa" {
  # checkov:skip=CKV_AWS_18:access logs would need a second bucket per cluster; CloudTrail data events are the audit trail for backup access
  # checkov:skip=CKV_AWS_144:every datacenter holds a full replica of the data (NetworkTopologyStrategy); backups guard against deletion and corruption, and replicating them is an account-level disaster-recovery choice
  # checkov:skip=CKV2_AWS_62:nothing consumes events of the backup bucket
  count = local.medusa_owner ? 1 : 0

  region = var.region
  bucket = local.medusa_bucket
}

resource "aws_s3_bucket_ownership_controls" "medusa" {
  count = length(aws_s3_bucket.medusa)

  region = var.region
  bucket = aws_s3_bucket.medusa[0].id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "medusa" {
  count = length(aws_s3_bucket.medusa)

  region                  = var.region
  bucket                  = aws_s3_bucket.medusa[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "medusa" {
  count = length(aws_s3_bucket.medusa)

  region = var.region
  bucket = aws_s3_bucket.medusa[0].id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "medusa" {
  count = length(aws_s3_bucket.medusa)

  region = var.region
  bucket = aws_s3_bucket.medusa[0].id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = local.medusa.bucket_kms_key_arn
    }
    bucket_key_enabled = true
  }
}

# Medusa purges backups older than its own retention (values of the cassandra root); the bucket
# only cleans up what Medusa cannot see: versions it deleted and abandoned uploads.
resource "aws_s3_bucket_lifecycle_configuration" "medusa" {
  count = length(aws_s3_bucket.medusa)

  region = var.region
  bucket = aws_s3_bucket.medusa[0].id

  rule {
    id     = "deleted-backups"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = 14
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.medusa]
}

data "aws_iam_policy_document" "medusa_bucket" {
  count = length(aws_s3_bucket.medusa)

  statement {
    sid       = "TlsOnly"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.medusa[0].arn, "${aws_s3_bucket.medusa[0].arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "medusa" {
  count = length(aws_s3_bucket.medusa)

  region = var.region
  bucket = aws_s3_bucket.medusa[0].id
  policy = data.aws_iam_policy_document.medusa_bucket[0].json

  depends_on = [aws_s3_bucket_public_access_block.medusa]
}

# The service account of the Cassandra pods (the K8ssandraCluster names it).
resource "kubernetes_service_account_v1" "cassandra" {
  count = local.medusa == null ? 0 : 1

  metadata {
    name      = local.medusa.service_account
    namespace = kubernetes_namespace_v1.this["k8ssandra"].metadata[0].name
  }
}

data "aws_iam_policy_document" "medusa" {
  count = local.medusa == null ? 0 : 1

  statement {
    sid       = "ListBackups"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads"]
    resources = [local.medusa_arn]
  }

  statement {
    sid = "ReadWriteBackups"
    actions = [
      "s3:GetObject",
      "s3:PutObject",
      "s3:DeleteObject",
      "s3:AbortMultipartUpload",
      "s3:ListMultipartUploadParts",
    ]
    resources = ["${local.medusa_arn}/*"]
  }

  statement {
    sid       = "BucketKey"
    actions   = ["kms:GenerateDataKey*", "kms:Decrypt"]
    resources = [local.medusa.bucket_kms_key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.medusa.bucket_region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "medusa" {
  count = local.medusa == null ? 0 : 1

  name   = "cassandra-backups"
  role   = aws_iam_role.pod["medusa"].id
  policy = data.aws_iam_policy_document.medusa[0].json
}

# The datacenter's backup schedule, next to its CassandraDatacenter (which the control plane
# creates later from the cassandra root: until then the operator retries).
resource "helm_release" "backup_schedule" {
  count = local.medusa == null ? 0 : 1

  name      = "cassandra-backup-schedule"
  namespace = kubernetes_namespace_v1.this["k8ssandra"].metadata[0].name
  chart     = "${var.charts_dir}/cassandra-backup-schedule"

  values = [yamlencode({
    datacenter = var.site
    schedule   = local.medusa.schedule
  })]

  depends_on = [helm_release.k8ssandra_operator]
}
