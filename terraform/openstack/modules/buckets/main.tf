variable "buckets" {
  description = "Bucket names by purpose."
  type        = map(string)
}

resource "minio_s3_bucket" "this" {
  for_each = var.buckets

  bucket = each.value
  acl    = "private"

  lifecycle {
    prevent_destroy = true
  }
}

output "names" {
  value = { for k, b in minio_s3_bucket.this : k => b.bucket }
}
