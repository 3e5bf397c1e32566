# One customer-managed key for the platform's logs, secrets, container images, cache and database
# performance data. The lake has its own key (modules/data_lake), so a grant to read the lake never
# also grants decrypting the platform's secrets.

data "aws_caller_identity" "current" {}

data "aws_region" "current" {}

data "aws_iam_policy_document" "key" {
  #checkov:skip=CKV_AWS_109:A key policy's "*" resource is the key itself; this is AWS's default account delegation.
  #checkov:skip=CKV_AWS_111:A key policy's "*" resource is the key itself; this is AWS's default account delegation.
  #checkov:skip=CKV_AWS_356:A key policy's "*" resource is the key itself; this is AWS's default account delegation.
  # Without this statement IAM policies could not grant use of the key at all.
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }

  statement {
    sid = "CloudWatchLogsEncrypts"
    actions = [
      "kms:Encrypt*",
      "kms:Decrypt*",
      "kms:ReEncrypt*",
      "kms:GenerateDataKey*",
      "kms:Describe*",
    ]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${data.aws_region.current.region}.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:aws:logs:${data.aws_region.current.region}:${data.aws_caller_identity.current.account_id}:log-group:/${var.name}/*"]
    }
  }
}

resource "aws_kms_key" "this" {
  description             = "shopflow ${var.name}: logs, secrets, images, cache"
  enable_key_rotation     = true
  deletion_window_in_days = var.deletion_window_days
  policy                  = data.aws_iam_policy_document.key.json

  tags = var.tags
}

resource "aws_kms_alias" "this" {
  name          = "alias/shopflow-${var.name}"
  target_key_id = aws_kms_key.this.key_id
}
