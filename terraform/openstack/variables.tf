# Same variable names as terraform/sandbox/variables.tf.

# ---- instance-init packages -------------------------------------------------

variable "csi_packages_tag" {
  description = "Tag of the instance-init packages, e.g. git-hash-0123abcd (given by csi, no default)."
  type        = string
}

variable "csi_environment" {
  description = "csi's name of the environment, recorded in the state (given by csi, no default)."
  type        = string
}

# ---- configuration (<env>_env_configuration.tfvars, committed) ---------------

variable "environment" {
  description = "Environment name (sandbox, test, prod)."
  type        = string
}

variable "os_auth_url" {
  description = "OpenStack Keystone URL."
  type        = string
}

variable "os_region" {
  description = "OpenStack region."
  type        = string
}

variable "os_project_id" {
  description = "OpenStack project of this environment (csi refuses to run when OS_PROJECT_ID differs)."
  type        = string
}

variable "os_application_credential_id" {
  description = "OpenStack application credential id."
  type        = string
}

variable "bucket_endpoint" {
  description = "S3 endpoint of the object storage."
  type        = string
}

variable "bucket_access_key" {
  description = "S3 access key."
  type        = string
}

variable "external_network" {
  description = "External network (floating IP pool)."
  type        = string
}

variable "private_network" {
  description = "Private network the VMs are attached to."
  type        = string
}

variable "image_name" {
  description = "Base image of the VMs."
  type        = string
}

variable "flavors" {
  description = "Flavor of each VM role."
  type = object({
    database     = string
    nomad_server = string
    orchestrator = string
    worker       = string
  })
}

variable "ssh_public_key" {
  description = "Public key of the operators' keypair."
  type        = string
}

# ---- secrets (<env>_env_secrets.tfvars, git-ignored) -------------------------

variable "os_application_credential_secret" {
  description = "OpenStack application credential secret."
  type        = string
  sensitive   = true
}

variable "bucket_secret_key" {
  description = "S3 secret key."
  type        = string
  sensitive   = true
}

variable "registry_token" {
  description = "Token of the docker registry."
  type        = string
  sensitive   = true
}
