# RLIE-S1 processing worker (River and Lake Ice Extent from Sentinel-1).
#
# Written in Nomad 0.x days and never reformatted: HCL1-era constructs that a strict
# HCL2 parser rejects but that this deployment still accepts:
#   - quoted attribute names in `meta` and `env`,
#   - several attributes on one line in `resources`,
#   - `args` written twice in `config` (HCL1: the last one wins).
# Edit only with csi (it changes the image tag and nothing else).
#
# Template variables: see nomad/README.md.

job "rlies1-processing" {
  datacenters = ["hrsi"]
  type = "batch"

  parameterized {
    payload = "forbidden"
    meta_required = ["job_id", "tile_id"]
  }

  constraint {
    attribute = "${node.class}"
    value = "worker"
  }

  meta {
    "hrsi.product" = "RLIE-S1"
    "hrsi.owner" = "hrsi-operations"
  }

  group "rlies1" {
    task "rlies1-processing" {
      driver = "docker"

      config {
        image = "registry.hrsi.example/cosims/cosims/rlies1_processing:git-c08f1d5a"
        // Old argument list, kept by mistake when --tile-id was added; HCL1 ignores it.
        args = ["--job-id", "${NOMAD_META_job_id}"]
        args = ["--job-id", "${NOMAD_META_job_id}", "--tile-id", "${NOMAD_META_tile_id}"]

        auth {
          username = "cosims-deploy"
          password = "$GITLAB_TOKEN_PASSWORD"
        }

        volumes = [
          "$CSI_ROOT_DIR/auxiliary:/opt/cosims/auxiliary:ro",
          "$CSI_ROOT_DIR/dem:/opt/cosims/dem:ro"
        ]
      }

      template {
        data = <<EOF
$CSI_CONFIG_ENV_FILE_CONTENT
EOF
        destination = "secrets/file.env"
        env = true
      }

      template {
        data = <<EOF
$CSI_SECRETS_ENV_FILE_CONTENT
EOF
        destination = "secrets/secrets.env"
        env = true
      }

      env {
        "CSI_WORK_DIR" = "${NOMAD_ALLOC_DIR}/work"
        "GDAL_CACHEMAX" = "512"
      }

      resources {
        cpu = 2000 memory = 6144
      }
    }
  }
}
