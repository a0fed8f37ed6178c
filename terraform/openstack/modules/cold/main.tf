# What survives a stop. Nothing here depends on module.core.

variable "csi_environment" {
  type = string
}

variable "environment" {
  type = string
}

variable "external_network" {
  type = string
}

variable "ssh_public_key" {
  type = string
}

variable "database_volume_size_gb" {
  type    = number
  default = 500
}

resource "openstack_blockstorage_volume_v3" "database" {
  name        = "hrsi-${var.environment}-database"
  description = "PostgreSQL data of tf-tutu"
  size        = var.database_volume_size_gb

  lifecycle {
    prevent_destroy = true
  }
}

resource "openstack_compute_keypair_v2" "operators" {
  name       = "hrsi-${var.environment}-keypair"
  public_key = var.ssh_public_key
}

resource "openstack_networking_floatingip_v2" "dashboard" {
  pool        = var.external_network
  description = "hrsi-${var.environment} dashboard"

  lifecycle {
    prevent_destroy = true
  }
}

output "database_volume_id" {
  value = openstack_blockstorage_volume_v3.database.id
}

output "keypair_name" {
  value = openstack_compute_keypair_v2.operators.name
}

output "dashboard_floatingip" {
  value = openstack_networking_floatingip_v2.dashboard.address
}

# The project the credentials act in (Keystone's token scope), not OS_PROJECT_ID.
data "openstack_identity_auth_scope_v3" "current" {
  name = "current"
}

# Which environment this state belongs to: csi reads it before planning and refuses
# another environment's state, and refuses a plan that would record another project.
resource "terraform_data" "csi_environment" {
  input = {
    environment          = var.csi_environment
    openstack_project_id = data.openstack_identity_auth_scope_v3.current.project_id
  }
}
