# tf-tete: the Nomad server. Addresses as in the real core/nomad_server.tf.

resource "openstack_compute_secgroup_v2" "nomad" {
  name        = "tf-nomad"
  description = "Group to open Nomad port (for CLI and web UI)"

  rule {
    ip_protocol = "tcp"
    from_port   = 4646
    to_port     = 4646
    cidr        = "0.0.0.0/0"
  }
}

resource "openstack_compute_instance_v2" "nomad_server" {
  name        = "tf-tete"
  image_name  = var.image_name
  flavor_name = var.flavors.nomad_server
  key_pair    = var.keypair_name
  security_groups = [
    "default",
    "allow_ping_ssh_rdp",
    openstack_compute_secgroup_v2.nomad.name,
  ]
  user_data = templatefile("${path.module}/user_data.sh.tftpl", merge(local.user_data, { hostname = "tf-tete", role = "nomad_server" }))

  metadata = merge(local.prometheus, { prometheus_io_group = "nomad-server" })

  network {
    name = var.private_network
  }
}

resource "openstack_networking_floatingip_v2" "nomad_server" {
  pool = var.external_network
}

resource "openstack_compute_floatingip_associate_v2" "nomad_server" {
  floating_ip = openstack_networking_floatingip_v2.nomad_server.address
  instance_id = openstack_compute_instance_v2.nomad_server.id
}

output "nomad_server_ip" {
  value = openstack_networking_floatingip_v2.nomad_server.address
}
