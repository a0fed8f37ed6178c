# GFSC processing worker (Gap-filled Fractional Snow Cover), the heaviest job type.
#
# Parameterized batch job; job-execution sends the list of input products as the
# dispatch payload (JSON), written to local/payload.json.
#
# Template variables: see nomad/README.md.

job "gfsc-processing" {
  datacenters = ["hrsi"]
  type        = "batch"
  priority    = 40

  parameterized {
    payload       = "required"
    meta_required = ["job_id", "tile_id"]
  }

  constraint {
    attribute = "${node.class}"
    value     = "worker"
  }

  constraint {
    attribute = "${attr.cpu.numcores}"
    operator  = ">="
    value     = "8"
  }

  group "gfsc" {
    ephemeral_disk {
      size = 20000 // MB: 60 days of FSC/SWS inputs for one tile
    }

    task "gfsc-processing" {
      driver = "docker"

      dispatch_payload {
        file = "payload.json"
      }

      config {
        image = "registry.hrsi.example/cosims/cosims/gfsc_processing:git-2e7f4b88"
        args = [
          "--job-id", "${NOMAD_META_job_id}",
          "--payload", "${NOMAD_TASK_DIR}/payload.json",
          "--work-dir", "${NOMAD_ALLOC_DIR}/work",
        ]

        auth {
          username = "cosims-deploy"
          password = "$GITLAB_TOKEN_PASSWORD"
        }

        mount {
          type     = "bind"
          source   = "$CSI_ROOT_DIR/auxiliary/gfsc"
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

      /* The tile is known only at dispatch time. */
      template {
        data        = "CSI_TILE_ID={{ env \"NOMAD_META_tile_id\" }}\n"
        destination = "local/tile.env"
        env         = true
      }

      resources {
        cpu        = 8000
        memory     = 16384
        memory_max = 24576
      }
    }
  }
}
