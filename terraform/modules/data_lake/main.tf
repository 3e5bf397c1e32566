# The S3 lake: landing/ (clickstream deliveries), raw/ (daily extracts), quarantine/ (partitions the
# quality gate rejected). Layout: docs/contracts.md. Private, versioned, encrypted with its own key,
# reachable over TLS only.

data "aws_caller_identity" "current" {}

data "aws_region" "current" {}

resource "aws_kms_key" "lake" {
  description             = "shopflow lake ${var.bucket_name}"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_days
  policy                  = data.aws_iam_policy_document.key.json

  tags = var.tags
}

data "aws_iam_policy_document" "key" {
  #checkov:skip=CKV_AWS_109:A key policy's "*" resource is the key itself; this is AWS's default account delegation.
  #checkov:skip=CKV_AWS_111:A key policy's "*" resource is the key itself; this is AWS's default account delegation.
  #checkov:skip=CKV_AWS_356:A key policy's "*" resource is the key itself; this is AWS's default account delegation.
  # Use of the key is granted by IAM policies (see pipeline_access_policy_json).
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }
}

resource "aws_kms_alias" "lake" {
  name          = "alias/${var.bucket_name}"
  target_key_id = aws_kms_key.lake.key_id
}

resource "aws_s3_bucket" "lake" {
  #checkov:skip=CKV2_AWS_62:Nothing consumes bucket events: Airflow schedules the pipeline by data interval.
  #checkov:skip=CKV_AWS_144:Cross-region replication is a disaster-recovery decision not taken yet (docs/deployment.md).
  bucket        = var.bucket_name
  force_destroy = var.force_destroy

  tags = var.tags
}

resource "aws_s3_bucket_ownership_controls" "lake" {
  bucket = aws_s3_bucket.lake.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "lake" {
  bucket = aws_s3_bucket.lake.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

# Versioning makes an overwritten or deleted partition recoverable: extracts replace partitions.
resource "aws_s3_bucket_versioning" "lake" {
  bucket = aws_s3_bucket.lake.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "lake" {
  bucket = aws_s3_bucket.lake.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.lake.arn
    }
    # One data key per bucket instead of per object: far fewer KMS calls for many small partitions.
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "lake" {
  bucket = aws_s3_bucket.lake.id

  rule {
    id     = "raw-tiering"
    status = "Enabled"

    filter {
      prefix = "raw/"
    }

    # Raw partitions are re-read by backfills, rarely after a month: cheaper tiers, never deleted.
    transition {
      days          = var.raw_infrequent_access_after_days
      storage_class = "STANDARD_IA"
    }

    transition {
      days          = var.raw_glacier_after_days
      storage_class = "GLACIER_IR"
    }

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }
  }

  rule {
    id     = "quarantine-expiry"
    status = "Enabled"

    filter {
      prefix = "quarantine/"
    }

    # Rejected partitions are kept long enough to investigate, then dropped.
    expiration {
      days = var.quarantine_expiration_days
    }

    noncurrent_version_expiration {
      noncurrent_days = 7
    }
  }

  rule {
    id     = "landing-expiry"
    status = "Enabled"

    filter {
      prefix = "landing/"
    }

    # Once extracted into raw/, landing files are only needed to re-run recent days.
    expiration {
      days = var.landing_expiration_days
    }

    noncurrent_version_expiration {
      noncurrent_days = 7
    }
  }

  rule {
    id     = "abort-incomplete-uploads"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.lake]
}

data "aws_iam_policy_document" "bucket" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.lake.arn,
      "${aws_s3_bucket.lake.arn}/*",
    ]

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

  statement {
    sid     = "DenyOldTls"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.lake.arn,
      "${aws_s3_bucket.lake.arn}/*",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "NumericLessThan"
      variable = "s3:TlsVersion"
      values   = ["1.2"]
    }
  }
}

resource "aws_s3_bucket_policy" "lake" {
  bucket = aws_s3_bucket.lake.id
  policy = data.aws_iam_policy_document.bucket.json

  depends_on = [aws_s3_bucket_public_access_block.lake]
}

resource "aws_s3_bucket_logging" "lake" {
  count = var.access_log_bucket == null ? 0 : 1

  bucket        = aws_s3_bucket.lake.id
  target_bucket = var.access_log_bucket
  target_prefix = "s3-access/${var.bucket_name}/"
}

# What the pipeline (the Airflow worker tasks) may do, and nothing more: read every zone, write and
# replace partitions in raw/ and quarantine/. landing/ is written by the delivery stream, not by us.
data "aws_iam_policy_document" "pipeline_access" {
  statement {
    sid       = "ListLakeZones"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.lake.arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["landing/*", "raw/*", "quarantine/*", "landing/", "raw/", "quarantine/"]
    }
  }

  statement {
    sid       = "LocateBucket"
    actions   = ["s3:GetBucketLocation"]
    resources = [aws_s3_bucket.lake.arn]
  }

  statement {
    sid     = "ReadZones"
    actions = ["s3:GetObject"]
    resources = [
      "${aws_s3_bucket.lake.arn}/landing/*",
      "${aws_s3_bucket.lake.arn}/raw/*",
      "${aws_s3_bucket.lake.arn}/quarantine/*",
    ]
  }

  statement {
    sid = "WritePartitions"
    actions = [
      "s3:PutObject",
      "s3:DeleteObject",
      "s3:AbortMultipartUpload",
      "s3:ListMultipartUploadParts",
    ]
    resources = [
      "${aws_s3_bucket.lake.arn}/raw/*",
      "${aws_s3_bucket.lake.arn}/quarantine/*",
    ]
  }

  statement {
    sid       = "UseLakeKeyThroughS3"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.lake.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${data.aws_region.current.region}.amazonaws.com"]
    }
  }
}
