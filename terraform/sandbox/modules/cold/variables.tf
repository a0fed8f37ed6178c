variable "environment" {
  type = string
}

variable "os_region" {
  type = string
}

variable "os_project_id" {
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

variable "csi_environment" {
  type = string
}
