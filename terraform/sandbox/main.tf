# Sandbox stand-in for terraform/openstack: same root layout, same module
# addresses (module.core / module.cold), same variables, but every resource is a
# built-in `terraform_data`, so `tofu init/plan/apply` work offline.

terraform {
  required_version = ">= 1.6"

  # One state per environment, outside the tracked files: csi gives the file with
  # `init -backend-config=path=<terraform.state_file of csi.hcl>`.
  backend "local" {}
}

# What must survive a stop: database volume, keypair, dashboard floating IP.
module "cold" {
  source = "./modules/cold"

  environment      = var.environment
  os_region        = var.os_region
  os_project_id    = var.os_project_id
  external_network = var.external_network
  ssh_public_key   = var.ssh_public_key
  csi_environment  = var.csi_environment
}

# What a stop destroys and a start re-creates: exactly 13 resources.
module "core" {
  source = "./modules/core"

  # A start (-target=module.core) also creates the state's environment record
  # (module.cold.terraform_data.csi_environment) when it is missing.
  depends_on = [module.cold]

  environment      = var.environment
  os_region        = var.os_region
  os_project_id    = var.os_project_id
  external_network = var.external_network
  private_network  = var.private_network
  image_name       = var.image_name
  flavors          = var.flavors
  bucket_endpoint  = var.bucket_endpoint
  csi_packages_tag = var.csi_packages_tag

  # Read from cold; nothing in cold depends on core.
  keypair_name         = module.cold.keypair_name
  database_volume_id   = module.cold.database_volume_id
  dashboard_floatingip = module.cold.dashboard_floatingip

  # Secrets are only checked (non-empty) by preconditions in core, never stored.
  os_application_credential_secret = var.os_application_credential_secret
  bucket_secret_key                = var.bucket_secret_key
  registry_token                   = var.registry_token
}
