# Sandbox configuration: non-secret values, committed.
# Everything here is fake; nothing leaves this machine.

environment                  = "sandbox"
os_auth_url                  = "https://keystone.sandbox.example.org:5000/v3"
os_region                    = "SANDBOX-1"
os_project_id                = "00000000000000000000000000000000"
os_application_credential_id = "sandbox0000000000000000000000000"
bucket_endpoint              = "https://s3.sandbox.example.org"
bucket_access_key            = "SANDBOXACCESSKEY0000"
external_network             = "external"
private_network              = "hrsi-sandbox-private"
image_name                   = "ubuntu-22.04"
ssh_public_key               = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAISandboxKeyNotARealKey000000000000000000 csi@sandbox"

flavors = {
  database     = "sb.large"
  nomad_server = "sb.small"
  orchestrator = "sb.medium"
  worker       = "sb.xlarge"
}
