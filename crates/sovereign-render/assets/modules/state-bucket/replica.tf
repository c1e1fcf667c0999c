# A copy of every state in a second region: when the state's region is down, the failover it
# calls for still needs Terraform. Replication is asynchronous (seconds to minutes; S3 RTC is not
# enabled) and one-way; the break-glass path in terraform/README.md says how to work from the
# copy and come back.

locals {
  replicated = var.replica_region != null
}

resource "aws_kms_key" "replica" {
  count = local.replicated ? 1 : 0

  region                  = var.replica_region
  description             = "Terraform state in ${var.bucket}-replica"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms.json
  tags                    = var.tags
}

resource "aws_kms_alias" "replica" {
  count = local.replicated ? 1 : 0

  region        = var.replica_region
  name          = "alias/${var.bucket}-replica"
  target_key_id = aws_kms_key.replica[0].key_id
}

resource "aws_s3_bucket" "replica" {
  # checkov:skip=CKV_AWS_18:access logging needs a third bucket; CloudTrail data events are the audit trail for state access
  # checkov:skip=CKV_AWS_144:this is the replica; replicating it onwards would be a third copy
  # checkov:skip=CKV2_AWS_62:nothing consumes events of the state bucket
  count = local.replicated ? 1 : 0

  region = var.replica_region
  bucket = "${var.bucket}-replica"
  tags   = var.tags

  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_s3_bucket_versioning" "replica" {
  count = local.replicated ? 1 : 0

  region = var.replica_region
  bucket = aws_s3_bucket.replica[0].id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "replica" {
  count = local.replicated ? 1 : 0

  region = var.replica_region
  bucket = aws_s3_bucket.replica[0].id

  rule {
    bucket_key_enabled = true

    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.replica[0].arn
    }
  }
}

resource "aws_s3_bucket_public_access_block" "replica" {
  count = local.replicated ? 1 : 0

  region                  = var.replica_region
  bucket                  = aws_s3_bucket.replica[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_lifecycle_configuration" "replica" {
  count = local.replicated ? 1 : 0

  region = var.replica_region
  bucket = aws_s3_bucket.replica[0].id

  rule {
    id     = "old-versions"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = 90
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

resource "aws_s3_bucket_policy" "replica" {
  count = local.replicated ? 1 : 0

  region = var.replica_region
  bucket = aws_s3_bucket.replica[0].id
  policy = data.aws_iam_policy_document.replica_tls_only[0].json
}

data "aws_iam_policy_document" "replica_tls_only" {
  count = local.replicated ? 1 : 0

  statement {
    sid       = "TLSOnly"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.replica[0].arn, "${aws_s3_bucket.replica[0].arn}/*"]

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

# What S3 replicates as: read the state's versions and its key, write the replica with its key.
resource "aws_iam_role" "replication" {
  count = local.replicated ? 1 : 0

  name_prefix        = "${substr(var.bucket, 0, 26)}-repl-"
  assume_role_policy = data.aws_iam_policy_document.replication_assume[0].json
  tags               = var.tags
}

data "aws_iam_policy_document" "replication_assume" {
  count = local.replicated ? 1 : 0

  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role_policy" "replication" {
  count = local.replicated ? 1 : 0

  name   = "replicate-state"
  role   = aws_iam_role.replication[0].id
  policy = data.aws_iam_policy_document.replication[0].json
}

data "aws_iam_policy_document" "replication" {
  count = local.replicated ? 1 : 0

  statement {
    sid       = "ReadSource"
    actions   = ["s3:GetReplicationConfiguration", "s3:ListBucket"]
    resources = [aws_s3_bucket.state.arn]
  }

  statement {
    sid       = "ReadSourceVersions"
    actions   = ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging"]
    resources = ["${aws_s3_bucket.state.arn}/*"]
  }

  statement {
    sid       = "WriteReplica"
    actions   = ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"]
    resources = ["${aws_s3_bucket.replica[0].arn}/*"]
  }

  statement {
    sid       = "DecryptSource"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.state.arn]

    condition {
      test     = "StringLike"
      variable = "kms:ViaService"
      values   = ["s3.${var.region}.amazonaws.com"]
    }
  }

  statement {
    sid       = "EncryptReplica"
    actions   = ["kms:Encrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.replica[0].arn]

    condition {
      test     = "StringLike"
      variable = "kms:ViaService"
      values   = ["s3.${var.replica_region}.amazonaws.com"]
    }
  }
}

resource "aws_s3_bucket_replication_configuration" "state" {
  count = local.replicated ? 1 : 0

  region = var.region
  bucket = aws_s3_bucket.state.id
  role   = aws_iam_role.replication[0].arn

  rule {
    id     = "state-to-${var.replica_region}"
    status = "Enabled"

    filter {}

    delete_marker_replication {
      status = "Enabled"
    }

    source_selection_criteria {
      sse_kms_encrypted_objects {
        status = "Enabled"
      }
    }

    destination {
      bucket = aws_s3_bucket.replica[0].arn

      encryption_configuration {
        replica_kms_key_id = aws_kms_key.replica[0].arn
      }
    }
  }

  # Replication needs versioning on both sides first.
  depends_on = [aws_s3_bucket_versioning.state, aws_s3_bucket_versioning.replica]
}
