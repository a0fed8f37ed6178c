# The 4 VMs. user_data embeds var.csi_packages_tag: each start boots the
# instance-init packages of that tag.

locals {
  user_data = {
    environment       = var.environment
    packages_tag      = var.csi_packages_tag
    packages_bucket   = var.packages_bucket
    backups_bucket    = var.backups_bucket
    nomad_server      = "tf-tete"
    bucket_endpoint   = var.bucket_endpoint
    bucket_access_key = var.bucket_access_key
    bucket_secret_key = var.bucket_secret_key
    registry_token    = var.registry_token
  }
}

resource "openstack_compute_instance_v2" "tf_tutu" {
  name            = "tf-tutu"
  flavor_name     = var.flavors.database
  key_pair        = var.keypair_name
  security_groups = [openstack_compute_secgroup_v2.ssh.name, openstack_compute_secgroup_v2.database.name]
  user_data       = templatefile("${path.module}/user_data.sh.tftpl", merge(local.user_data, { hostname = "tf-tutu", role = "database" }))

  network {
    name = var.private_network
  }

  block_device {
    source_type           = "image"
    uuid                  = data.openstack_images_image_v2.base.id
    destination_type      = "local"
    boot_index            = 0
    delete_on_termination = true
  }

  # The database volume lives in module.cold and outlives this VM.
  block_device {
    source_type           = "volume"
    uuid                  = var.database_volume_id
    destination_type      = "volume"
    boot_index            = 1
    delete_on_termination = false
  }
}

resource "openstack_compute_instance_v2" "tf_tete" {
  name            = "tf-tete"
  flavor_name     = var.flavors.nomad_server
  image_name      = var.image_name
  key_pair        = var.keypair_name
  security_groups = [openstack_compute_secgroup_v2.ssh.name, openstack_compute_secgroup_v2.nomad_server.name]
  user_data       = templatefile("${path.module}/user_data.sh.tftpl", merge(local.user_data, { hostname = "tf-tete", role = "nomad-server" }))

  network {
    name = var.private_network
  }
}

resource "openstack_compute_instance_v2" "tf_tata" {
  name            = "tf-tata"
  flavor_name     = var.flavors.orchestrator
  image_name      = var.image_name
  key_pair        = var.keypair_name
  security_groups = [openstack_compute_secgroup_v2.ssh.name, openstack_compute_secgroup_v2.nomad_client.name]
  user_data       = templatefile("${path.module}/user_data.sh.tftpl", merge(local.user_data, { hostname = "tf-tata", role = "orchestrator" }))

  network {
    name = var.private_network
  }

  # Nomad client of class orchestrator: joins the server on tf-tete.
  depends_on = [openstack_compute_instance_v2.tf_tete]
}

resource "openstack_compute_instance_v2" "tf_titi" {
  name            = "tf-titi"
  flavor_name     = var.flavors.worker
  image_name      = var.image_name
  key_pair        = var.keypair_name
  security_groups = [openstack_compute_secgroup_v2.ssh.name, openstack_compute_secgroup_v2.nomad_client.name]
  user_data       = templatefile("${path.module}/user_data.sh.tftpl", merge(local.user_data, { hostname = "tf-titi", role = "worker" }))

  network {
    name = var.private_network
  }

  depends_on = [openstack_compute_instance_v2.tf_tete]
}

data "openstack_images_image_v2" "base" {
  name        = var.image_name
  most_recent = true
}
