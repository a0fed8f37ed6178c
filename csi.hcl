# csi configuration: the environments csi operates.
# Every key is described in the README ("Configuration"). Relative paths are relative
# to this file; var files are relative to the terraform directory. Secrets never go in
# this file: they come from the secrets var file, PGPASSWORD / password_file,
# NOMAD_TOKEN / token_file and BORG_PASSPHRASE / BORG_PASSCOMMAND.

# The six orchestrator services (Nomad service jobs), shared by every environment.
# job_file is relative to the environment's nomad.jobs_dir (default: nomad/).
service "job-creation" {
  job_file = "job_creation.nomad"
  job_id   = "job-creation"
}
service "job-configuration" {
  job_file = "job_configuration.nomad"
  job_id   = "job-configuration"
}
service "job-execution" {
  job_file = "job_execution.nomad"
  job_id   = "job-execution"
}
service "job-publication" {
  job_file = "job_publication.nomad"
  job_id   = "job-publication"
}
service "monitor" {
  job_file = "monitor.nomad"
  job_id   = "monitor"
}
service "worker-pool-management" {
  job_file = "worker_pool_management.nomad"
  job_id   = "worker-pool-management"
}

# Restart after a long downtime: each wave adds these job types to job_types_list.
waves = [
  ["fsc_rlie_job", "rlies1_job"],
  ["sws_wds_job", "rlies1s2_job"],
  ["gfsc_job"],
]

# The gate between two waves: has each job type caught up with near-real-time
# production? gate_sql defaults to a query for the cosims schema (README, "System
# parameters and the wave restart"); set it here (a heredoc) to replace it.
restart {
  nrt_max_age       = "3h"  # an NRT job unfinished after this long is backlog
  recent_production = "6h"  # a type must have published or finished a job this recently
  poll_interval     = "1m"
}

# csi env jobs: the pause between two jobs written (the services are live) and what
# `retry` means. An environment's own jobs block overrides these keys.
jobs {
  pause      = "2s"
  retry_from = ["internal_error", "external_error"]
  retry_to   = ["error_checked", "ready"]
}

environment "prod" {
  protected   = true
  description = "The operational system"

  terraform {
    dir                    = "terraform/openstack"
    binary                 = "terraform"
    target                 = "module.core"
    configuration_var_file = "prod_env_configuration.tfvars"
    secrets_var_file       = "prod_env_secrets.tfvars"
    parallelism            = 2
    openstack_project_id   = "3f6c2a9e81d44b0c9a7e5d21c08b4f17"
    # prod's own remote state (S3 on the object store, locked); README "Terraform state".
    backend_config         = "prod_env_backend.tfbackend"
    # A start checks instance_init_packages/<tag> here, with the operator's rclone remote.
    packages_location      = "csi:hrsi-prod-packages/instance_init_packages"
  }

  # Production's topology (README, "Configuration"): csi runs on the admin VM tf-toto
  # (reached with deployment/ssh_connect_to_admin.sh), or on a laptop through it.
  # tf-tutu holds PostgreSQL 12 (localhost only, Debian defaults) and the borg
  # repository; only ssh reaches them, as the operators do: ssh eouser@tf-tutu.
  ssh {
    host             = "tf-tutu"
    user             = "eouser"
    # From a laptop rather than from tf-toto: through the admin VM (its floating IP).
    # jump           = "eouser@tf-toto.prod.hrsi.example"
    identity_file    = "~/.ssh/hrsi_prod"
    known_hosts_file = "~/.ssh/known_hosts_hrsi"
  }

  # tf-tete: reachable from tf-toto's network; from a laptop add over_ssh = true
  # (a port forwarded through tf-tutu).
  nomad {
    address = "http://tf-tete:4646"
  }

  # The database `postgres` holds the schema cosims (no CREATE DATABASE in the real
  # system). Over ssh: tf-tutu's unix socket, forwarded; the role is eouser, peer-
  # authenticated. One-time set-up on tf-tutu: sudo -u postgres createuser --superuser eouser
  database {
    over_ssh = true
    port     = 5432
    user     = "eouser"
    name     = "postgres"
  }

  # Written by root (backupninja, 04:00): read and written through `sudo borg`.
  borg {
    over_ssh       = true
    repository     = "/backup/tf-tutu"
    remote_path    = "sudo borg"
    archive_prefix = "pgdump_"
    max_backup_age = "26h"
  }

  # csi env deploy-dashboard. PLACEHOLDERS: the reference names no web host; put the
  # dashboard's floating IP (kept in module.cold) or name, and the deploy account.
  # Host keys are checked strictly against known_hosts_file: add the web host's key
  # there once, after checking its fingerprint.
  dashboard {
    host             = "dashboard.prod.hrsi.example"
    user             = "deploy"
    port             = 22
    identity_file    = "~/.ssh/hrsi_dashboard_prod"
    known_hosts_file = "~/.ssh/known_hosts_hrsi"
    temp_dir         = "/var/www/temp"
    live_dir         = "/var/www/html"
    keep             = 3              # versions kept besides html.prev
    index            = "index.html"
    verify_url       = "https://dashboard.prod.hrsi.example/index.html"
  }
}

environment "test" {
  description = "A full copy of prod on another OpenStack project"

  terraform {
    dir                    = "terraform/openstack"
    binary                 = "terraform"
    configuration_var_file = "test_env_configuration.tfvars"
    secrets_var_file       = "test_env_secrets.tfvars"
    openstack_project_id   = "b72e0d4c95a14f8e8c31a6d07e5b29c3"
    backend_config         = "test_env_backend.tfbackend"
    packages_location      = "csi:hrsi-test-packages/instance_init_packages"
  }

  # The same topology as prod, in the test project.
  ssh {
    host             = "tf-tutu"
    user             = "eouser"
    # jump           = "eouser@tf-toto.test.hrsi.example"
    identity_file    = "~/.ssh/hrsi_test"
    known_hosts_file = "~/.ssh/known_hosts_hrsi_test"
  }

  nomad {
    address = "http://tf-tete:4646"
  }

  database {
    over_ssh = true
    user     = "eouser"
    name     = "postgres"
  }

  borg {
    over_ssh       = true
    repository     = "/backup/tf-tutu"
    remote_path    = "sudo borg"
    archive_prefix = "pgdump_"
  }

  # PLACEHOLDERS, as for prod.
  dashboard {
    host             = "dashboard.test.hrsi.example"
    user             = "deploy"
    identity_file    = "~/.ssh/hrsi_dashboard_test"
    known_hosts_file = "~/.ssh/known_hosts_hrsi"
    verify_url       = "https://dashboard.test.hrsi.example/index.html"
  }
}

# Runs entirely on this machine: `scripts/sandbox.sh up` starts it.
environment "sandbox" {
  description = "Local rehearsal: real tofu, borg, PostgreSQL and the Nomad double"
  state_dir   = ".sandbox/state"

  terraform {
    dir                    = "terraform/sandbox"
    binary                 = "tools/bin/tofu"
    configuration_var_file = "sandbox_env_configuration.tfvars"
    secrets_var_file       = "sandbox_env_secrets.tfvars"
    # The local state of this environment, outside the tree's tracked files.
    state_file             = ".sandbox/state/sandbox/terraform.tfstate"
  }

  nomad {
    address = "http://127.0.0.1:54646"
    # A copy of nomad/ that the sandbox may rewrite (scripts/sandbox.sh up makes it).
    jobs_dir = ".sandbox/nomad"
    template_values = {
      CSI_ROOT_DIR = "/opt/csi"
    }
    template_files = {
      CSI_CONFIG_ENV_FILE_CONTENT  = "nomad/env/sandbox_configuration.env"
      CSI_SECRETS_ENV_FILE_CONTENT = ".sandbox/secrets.env"
      GITLAB_TOKEN_PASSWORD        = ".sandbox/registry-token"
    }
    # The double deploys in seconds; a service left pending (doctor) is given up sooner.
    deploy_timeout = "20s"
  }

  # The database host, as prod's tf-tutu: only ssh reaches the PostgreSQL socket and
  # the borg repository (scripts/sandbox.sh up: the web host's sshd, paths linked
  # under /tmp/csi-sandbox-dbhost).
  ssh {
    host             = "127.0.0.1"
    port = 54622
    identity_file    = ".sandbox/ssh/client_key"
    known_hosts_file = ".sandbox/ssh/known_hosts"
  }

  database {
    over_ssh   = true
    socket_dir = "/tmp/csi-sandbox-dbhost/pg"
    port = 55432
    user = "postgres"
    name = "postgres"   # as in production
  }

  borg {
    over_ssh   = true
    repository = "/tmp/csi-sandbox-dbhost/borg"
  }

  restart {
    poll_interval = "5s"
  }

  # The sandbox's web host: sshd on loopback as the current user (scripts/sandbox.sh up).
  dashboard {
    host             = "127.0.0.1"
    port             = 54622
    identity_file    = ".sandbox/ssh/client_key"
    known_hosts_file = ".sandbox/ssh/known_hosts"
    temp_dir         = "/tmp/csi-sandbox-www/temp"
    live_dir         = "/tmp/csi-sandbox-www/html"
    keep             = 2
  }
}
