# HR-S&I on OpenStack, following the real deployment's modules. A stop is
# `destroy -target=module.core`, a start `apply -target=module.core`: core's four
# instances, two security groups, two floating IPs and their associations (10
# resources, the count csi expects, read from these files); cold, admin and buckets
# are never touched by a stop/start.

terraform {
  required_version = ">= 1.6"

  # One state per environment in the object store, which speaks S3. The bucket, key,
  # endpoints and lock table are in <env>_env_backend.tfbackend, given by csi as
  # `init -backend-config=<file>`; the EC2 credentials come from AWS_ACCESS_KEY_ID /
  # AWS_SECRET_ACCESS_KEY. OpenTofu 1.6 locks in a DynamoDB table (README, "Terraform state").
  backend "s3" {}

  required_providers {
    openstack = {
      source = "terraform-provider-openstack/openstack"
      # 1.x, as the real deployment: it keeps openstack_compute_secgroup_v2,
      # openstack_compute_floatingip_associate_v2 and openstack_blockstorage_volume_v2
      # (removed in 2.0), so the real state's addresses stay as they are.
      version = "~> 1.54"
    }
    minio = {
      source  = "aminueza/minio"
      version = "~> 2.0"
    }
  }
}

provider "openstack" {
  auth_url                      = var.os_auth_url
  region                        = var.os_region
  application_credential_id     = var.os_application_credential_id
  application_credential_secret = var.os_application_credential_secret
}

# S3-compatible object storage of the same cloud.
provider "minio" {
  minio_server   = trimprefix(var.bucket_endpoint, "https://")
  minio_ssl      = true
  minio_region   = var.os_region
  minio_user     = var.bucket_access_key
  minio_password = var.bucket_secret_key
}

locals {
  buckets = {
    packages = "hrsi-${var.environment}-packages"
    products = "hrsi-${var.environment}-products"
    backups  = "hrsi-${var.environment}-database-backups"
  }
}

module "cold" {
  source = "./modules/cold"

  csi_environment = var.csi_environment

  environment      = var.environment
  external_network = var.external_network
  image_name       = var.image_name
}

module "buckets" {
  source = "./modules/buckets"

  buckets = local.buckets
}

module "admin" {
  source = "./modules/admin"

  environment      = var.environment
  external_network = var.external_network
  private_network  = var.private_network
  image_name       = var.image_name
  keypair_name     = module.cold.keypair_name
}

module "core" {
  source = "./modules/core"

  # A start (-target=module.core) also creates the state's environment record.
  depends_on = [module.cold]

  environment      = var.environment
  external_network = var.external_network
  private_network  = var.private_network
  image_name       = var.image_name
  flavors          = var.flavors
  csi_packages_tag = var.csi_packages_tag

  # Plain names, not module.buckets outputs: start/stop must not depend on
  # the object-storage provider.
  packages_bucket = local.buckets.packages
  backups_bucket  = local.buckets.backups
  bucket_endpoint = var.bucket_endpoint

  keypair_name         = module.cold.keypair_name
  database_volume_id   = module.cold.database_volume_id
  dashboard_floatingip = module.cold.dashboard_floatingip

  bucket_access_key = var.bucket_access_key
  bucket_secret_key = var.bucket_secret_key
  registry_token    = var.registry_token
}
