# Job configuration service: fills in the processing parameters of the parent jobs
# created by job-creation (auxiliary data versions, input product lists).
# Template variables: see nomad/README.md.

job "job-configuration" {
  datacenters = ["hrsi"]
  type        = "service"

  constraint {
    attribute = "${node.class}"
    value     = "orchestrator"
  }

  # No update block: Nomad's default rolling update applies (one at a time, 5m).

  group "job-configuration" {
    task "job-configuration" {
      driver       = "docker"
      kill_timeout = "45s" // lets the current configuration loop finish

      config {
        image      = "registry.hrsi.example/cosims/cosims/job_configuration:git-a41d07b9"
        force_pull = false

        auth {
          username = "cosims-deploy"
          password = "$GITLAB_TOKEN_PASSWORD"
        }

        mount {
          type     = "bind"
          source   = "$CSI_ROOT_DIR/auxiliary"
          target   = "/opt/cosims/auxiliary"
          readonly = true
        }
      }

      template {
        data        = <<EOF
$CSI_CONFIG_ENV_FILE_CONTENT
EOF
        destination = "secrets/file.env"
        env         = true
      }
      template {
        data        = <<EOF
$CSI_SECRETS_ENV_FILE_CONTENT
EOF
        destination = "secrets/secrets.env"
        env         = true
      }

      # Rendered by Nomad at runtime (consul-template syntax), not by csi.
      template {
        data        = <<-EOH
          CSI_ALLOC_ID={{ env "NOMAD_ALLOC_ID" }}
          CSI_SCRATCH_DIR=${NOMAD_ALLOC_DIR}/scratch
          EOH
        destination = "local/runtime.env"
        env         = true
      }

      resources {
        cpu    = 400
        memory = 768
      }

      logs {
        max_files     = 5
        max_file_size = 20
      }
    }
  }
}
