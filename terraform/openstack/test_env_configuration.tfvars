# test: configuration values (no secrets), committed.
# Values are illustrative; the ids belong to no real project.

environment                  = "test"
os_auth_url                  = "https://keystone.cloud.example.com:5000/v3"
os_region                    = "RegionOne"
os_project_id                = "b72e0d4c95a14f8e8c31a6d07e5b29c3"
os_application_credential_id = "1c9a7f3e5b2d4a08961e4c7b0d3f5a62"
bucket_endpoint              = "https://s3.cloud.example.com"
bucket_access_key            = "HRSITESTACCESSKEY0001"
external_network             = "external"
private_network              = "hrsi-test-private"
image_name                   = "ubuntu-22.04"
ssh_public_key               = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleKeyOfTheHrsiOperatorstest00000000000 hrsi-operators@test"

flavors = {
  database     = "eo2.xlarge"
  nomad_server = "eo1.medium"
  orchestrator = "eo2.large"
  worker       = "hm.2xlarge"
}
