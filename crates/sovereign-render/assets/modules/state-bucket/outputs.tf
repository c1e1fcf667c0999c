output "bucket" {
  description = "Name of the state bucket."
  value       = aws_s3_bucket.state.bucket
}

output "kms_key_arn" {
  description = "KMS key that encrypts the state."
  value       = aws_kms_key.state.arn
}

output "replica_bucket" {
  description = "The replica of the state bucket in replica_region (null without one): the break-glass copy."
  value       = local.replicated ? aws_s3_bucket.replica[0].bucket : null
}
