# prod: configuration values (no secrets), committed.
# Values are illustrative; the ids belong to no real project.

environment                  = "prod"
os_auth_url                  = "https://keystone.cloud.example.com:5000/v3"
os_region                    = "RegionOne"
os_project_id                = "3f6c2a9e81d44b0c9a7e5d21c08b4f17"
os_application_credential_id = "8d1e4b7a2c9f4e60b3a5d7c1e2f09a48"
bucket_endpoint              = "https://s3.cloud.example.com"
bucket_access_key            = "HRSIPRODACCESSKEY0001"
external_network             = "external"
private_network              = "hrsi-prod-private"
image_name                   = "ubuntu-22.04"
ssh_public_key               = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleKeyOfTheHrsiOperatorsprod00000000000 hrsi-operators@prod"

flavors = {
  database     = "eo2.xlarge"
  nomad_server = "eo1.medium"
  orchestrator = "eo2.large"
  worker       = "hm.2xlarge"
}
