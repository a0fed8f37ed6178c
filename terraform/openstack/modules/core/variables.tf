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

variable "flavors" {
  type = object({
    database     = string
    nomad_server = string
    orchestrator = string
    worker       = string
  })
}

variable "csi_packages_tag" {
  description = "Tag of the instance-init packages fetched by every VM at boot."
  type        = string
}

variable "packages_bucket" {
  type = string
}

variable "backups_bucket" {
  type = string
}

variable "bucket_endpoint" {
  type = string
}

variable "bucket_access_key" {
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

# ---- secrets (user_data is kept only as a hash in the state) -----------------

variable "bucket_secret_key" {
  type      = string
  sensitive = true
}

variable "registry_token" {
  type      = string
  sensitive = true
}

variable "eodata_network" {
  description = "The EO data network the worker template is attached to (real: eodata_magellium)."
  type        = string
  default     = "eodata_magellium"
}
