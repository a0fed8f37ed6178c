# 4 security groups, rules inline (no separate rule resources: a stop/start
# must stay exactly 13 resources).

resource "openstack_compute_secgroup_v2" "ssh" {
  name        = "hrsi-${var.environment}-ssh"
  description = "ssh"

  rule {
    ip_protocol = "tcp"
    from_port   = 22
    to_port     = 22
    cidr        = "0.0.0.0/0"
  }
}

resource "openstack_compute_secgroup_v2" "database" {
  name        = "hrsi-${var.environment}-database"
  description = "PostgreSQL and its HTTP API (port 3000)"

  rule {
    ip_protocol = "tcp"
    from_port   = 5432
    to_port     = 5432
    cidr        = "10.0.0.0/16"
  }

  rule {
    ip_protocol = "tcp"
    from_port   = 3000
    to_port     = 3000
    cidr        = "10.0.0.0/16"
  }
}

resource "openstack_compute_secgroup_v2" "nomad_server" {
  name        = "hrsi-${var.environment}-nomad-server"
  description = "Nomad server (HTTP, RPC, serf)"

  rule {
    ip_protocol = "tcp"
    from_port   = 4646
    to_port     = 4648
    cidr        = "10.0.0.0/16"
  }
}

resource "openstack_compute_secgroup_v2" "nomad_client" {
  name        = "hrsi-${var.environment}-nomad-client"
  description = "Nomad clients and the dashboard"

  rule {
    ip_protocol = "tcp"
    from_port   = 4646
    to_port     = 4648
    cidr        = "10.0.0.0/16"
  }

  rule {
    ip_protocol = "tcp"
    from_port   = 443
    to_port     = 443
    cidr        = "0.0.0.0/0"
  }
}
