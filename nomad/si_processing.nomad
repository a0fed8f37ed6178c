# Snow & ice processing worker (FSC/RLIE), dispatched by job-execution.
#
# Parameterized batch job: job-execution dispatches one instance per job with the
# job id and tile in the dispatch metadata. Two tasks: a prestart task that stages
# the input products into the allocation, then the processing itself.
#
# Template variables: see nomad/README.md.

job "si-processing" {
  datacenters = ["hrsi"]
  type        = "batch"

  parameterized {
    payload       = "forbidden"
    meta_required = ["job_id", "tile_id"]
    meta_optional = ["priority"]
  }

  constraint {
    attribute = "${node.class}"
    value     = "worker"
  }

  group "si" {
    restart {
      attempts = 1
      delay    = "2m"
      mode     = "fail"
    }

    reschedule {
      attempts  = 0
      unlimited = false
    }

    task "stage-inputs" {
      driver = "docker"

      lifecycle {
        hook    = "prestart"
        sidecar = false
      }

      config {
        image   = "registry.hrsi.example/cosims/tools/rclone:1.66.0"
        command = "/bin/sh"
        # $${...} is HCL's escape for a literal ${...}: the shell expands it, not Nomad.
        args = [
          "-c",
          "rclone copy --config /secrets/rclone.conf \"$${CSI_INPUT_URL}\" \"${NOMAD_ALLOC_DIR}/inputs\"",
        ]
      }

      template {
        data        = <<EOF
$CSI_SECRETS_ENV_FILE_CONTENT
EOF
        destination = "secrets/file.env"
        env         = true
      }

      env {
        CSI_INPUT_URL = "s3:hrsi-inputs/${NOMAD_META_tile_id}"
      }

      resources {
        cpu    = 200
        memory = 256
      }
    }

    task "si-processing" {
      driver = "docker"

      config {
        image = "registry.hrsi.example/cosims/cosims/si_processing:git-51ac9e03"
        args  = ["--job-id", "${NOMAD_META_job_id}", "--inputs", "${NOMAD_ALLOC_DIR}/inputs"]

        auth {
          username = "cosims-deploy"
          password = "$GITLAB_TOKEN_PASSWORD"
        }

        volumes = ["$CSI_ROOT_DIR/auxiliary:/opt/cosims/auxiliary:ro"]
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

      resources {
        cpu    = 4000
        memory = 8192
      }
    }
  }
}
