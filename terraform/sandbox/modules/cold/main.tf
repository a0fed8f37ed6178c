# Fake cold resources: they survive a stop (destroy -target=module.core).
# The `input` of each terraform_data describes the OpenStack object it stands for.

resource "terraform_data" "database_volume" {
  input = {
    type        = "openstack_blockstorage_volume_v3"
    name        = "hrsi-${var.environment}-database"
    size_gb     = var.database_volume_size_gb
    volume_type = "__DEFAULT__"
    region      = var.os_region
    project_id  = var.os_project_id
  }
}

resource "terraform_data" "keypair" {
  input = {
    type       = "openstack_compute_keypair_v2"
    name       = "hrsi-${var.environment}-keypair"
    public_key = var.ssh_public_key
    region     = var.os_region
  }
}

resource "terraform_data" "floatingip_dashboard" {
  input = {
    type        = "openstack_networking_floatingip_v2"
    pool        = var.external_network
    description = "hrsi-${var.environment} dashboard"
    region      = var.os_region
  }
}

# Which environment this state belongs to: csi reads it before planning and refuses
# another environment's state. A stop keeps it (it is in module.cold).
resource "terraform_data" "csi_environment" {
  input = {
    environment          = var.csi_environment
    openstack_project_id = var.os_project_id
  }
}
