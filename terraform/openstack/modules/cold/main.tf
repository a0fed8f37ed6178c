# What survives a stop. Nothing here depends on module.core. Addresses and names as in
# the real deployment's cold/ module (database_volume.tf, admin_local_key.tf,
# database_local_key.tf, dashboard_ip.tf), plus the state's environment record.

variable "csi_environment" {
  type = string
}

variable "environment" {
  type = string
}

variable "external_network" {
  type = string
}

variable "image_name" {
  type = string
}

variable "database_volume_size_gb" {
  type    = number
  default = 32
}

data "openstack_images_image_v2" "database" {
  name = var.image_name
}

# The database instance boots from this volume: the critical part of the system
# lives on dedicated block storage.
resource "openstack_blockstorage_volume_v2" "database" {
  name        = "tf-tutu-volume"
  description = "Boot volume for the database instance"
  image_id    = data.openstack_images_image_v2.database.id
  size        = var.database_volume_size_gb

  lifecycle {
    prevent_destroy = true
  }
}

resource "openstack_compute_keypair_v2" "admin_local_key" {
  name = "tf-toto-local-keypair"

  lifecycle {
    prevent_destroy = true
  }
}

resource "openstack_compute_keypair_v2" "database_local_key" {
  name = "tf-tutu-local-keypair"

  lifecycle {
    prevent_destroy = true
  }
}

resource "openstack_networking_floatingip_v2" "dashboard" {
  pool = var.external_network

  lifecycle {
    prevent_destroy = true
  }
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

output "database_volume_id" {
  value = openstack_blockstorage_volume_v2.database.id
}

output "keypair_name" {
  value = openstack_compute_keypair_v2.admin_local_key.name
}

output "database_public_key" {
  value = openstack_compute_keypair_v2.database_local_key.public_key
}

output "dashboard_floatingip" {
  value = openstack_networking_floatingip_v2.dashboard.address
}
