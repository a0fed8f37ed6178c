# 4 fake security groups.

resource "terraform_data" "secgroup_ssh" {
  input = {
    type  = "openstack_compute_secgroup_v2"
    name  = "hrsi-${var.environment}-ssh"
    rules = [{ protocol = "tcp", from_port = 22, to_port = 22, cidr = "0.0.0.0/0" }]
  }
}

resource "terraform_data" "secgroup_database" {
  input = {
    type = "openstack_compute_secgroup_v2"
    name = "hrsi-${var.environment}-database"
    rules = [
      { protocol = "tcp", from_port = 5432, to_port = 5432, cidr = "10.0.0.0/16" },
      { protocol = "tcp", from_port = 3000, to_port = 3000, cidr = "10.0.0.0/16" },
    ]
  }
}

resource "terraform_data" "secgroup_nomad_server" {
  input = {
    type  = "openstack_compute_secgroup_v2"
    name  = "hrsi-${var.environment}-nomad-server"
    rules = [{ protocol = "tcp", from_port = 4646, to_port = 4648, cidr = "10.0.0.0/16" }]
  }
}

resource "terraform_data" "secgroup_nomad_client" {
  input = {
    type = "openstack_compute_secgroup_v2"
    name = "hrsi-${var.environment}-nomad-client"
    rules = [
      { protocol = "tcp", from_port = 4646, to_port = 4648, cidr = "10.0.0.0/16" },
      { protocol = "tcp", from_port = 80, to_port = 80, cidr = "0.0.0.0/0" },
      { protocol = "tcp", from_port = 443, to_port = 443, cidr = "0.0.0.0/0" },
    ]
  }
}
