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

variable "private_network" {
  type = string
}

variable "image_name" {
  type = string
}

variable "flavors" {
  type = object({
    database     = string
    nomad_server = string
    orchestrator = string
    worker       = string
  })
}

variable "bucket_endpoint" {
  type = string
}

variable "csi_packages_tag" {
  type = string
}

# ---- from module.cold ---------------------------------------------------------

variable "keypair_name" {
  type = string
}

variable "database_volume_id" {
  type = string
}

variable "dashboard_floatingip" {
  type = string
}

# ---- secrets: only used in preconditions, never stored ------------------------

variable "os_application_credential_secret" {
  type      = string
  sensitive = true
}

variable "bucket_secret_key" {
  type      = string
  sensitive = true
}

variable "registry_token" {
  type      = string
  sensitive = true
}
