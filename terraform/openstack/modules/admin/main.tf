# The admin VM tf-toto (terraform, nomad, rclone, OpenStack CLI). It has its
# own security group so that a stop of core does not touch it.

variable "environment" {
  type = string
}

variable "external_network" {
  type = string
}

variable "private_network" {
  type = string
}

variable "image_name" {
  type = string
}

variable "keypair_name" {
  type = string
}

variable "flavor" {
  type    = string
  default = "eo1.small"
}

resource "openstack_compute_secgroup_v2" "admin" {
  name        = "hrsi-${var.environment}-admin"
  description = "ssh to the admin VM"

  rule {
    ip_protocol = "tcp"
    from_port   = 22
    to_port     = 22
    cidr        = "0.0.0.0/0"
  }
}

resource "openstack_compute_instance_v2" "tf_toto" {
  name            = "tf-toto"
  flavor_name     = var.flavor
  image_name      = var.image_name
  key_pair        = var.keypair_name
  security_groups = [openstack_compute_secgroup_v2.admin.name]

  network {
    name = var.private_network
  }
}

resource "openstack_networking_floatingip_v2" "tf_toto" {
  pool = var.external_network
}

resource "openstack_compute_floatingip_associate_v2" "tf_toto" {
  floating_ip = openstack_networking_floatingip_v2.tf_toto.address
  instance_id = openstack_compute_instance_v2.tf_toto.id
}

output "floatingip" {
  value = openstack_networking_floatingip_v2.tf_toto.address
}
