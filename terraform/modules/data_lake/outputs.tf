output "bucket_name" {
  description = "Name of the lake bucket."
  value       = aws_s3_bucket.lake.id
}

output "bucket_arn" {
  description = "ARN of the lake bucket."
  value       = aws_s3_bucket.lake.arn
}

output "kms_key_arn" {
  description = "ARN of the KMS key that encrypts the lake."
  value       = aws_kms_key.lake.arn
}

output "pipeline_access_policy_json" {
  description = "IAM policy (JSON) with the least privilege the pipeline needs on the lake; attach it to the worker role."
  value       = data.aws_iam_policy_document.pipeline_access.json
}
