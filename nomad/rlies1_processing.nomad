# RLIE-S1 (river and lake ice from Sentinel-1) processing worker.
#
# A parameterized batch job: job-execution dispatches it once per job (dispatch
# metadata job_id and job_unique_id), on a worker VM of flavour hm.large.
#
# Written for Nomad 0.11 (HCL1), as production's files are. `meta_required` is given
# twice: HCL1 appends the two lists (the job requires both keys); HCL2 calls it
# "Attribute redefined", so Nomad 1.9+ cannot parse this file. It has no image: the
# worker script runs the scientific software image named in cosims.system_parameters
# (`csi env processing-image`), so patch-image never touches it.
#
# Template variables: see nomad/README.md.

job "rlies1-processing" {
  type        = "batch"
  datacenters = ["hrsi"]

  constraint {
    attribute = "${node.class}"
    value     = "worker"
  }

  constraint {
    attribute = "${attr.platform.aws.instance-type}"
    value     = "hm.large"
  }

  parameterized {
    meta_required = ["job_id"]
    meta_required = ["job_unique_id"]
  }

  // One allocation per dispatched job: the worker, and beside it a task that copies
  // the allocation directory to the results bucket while the worker runs and once
  // more when it ends (the worker is the leader: Nomad stops the other after it).
  group "run-and-log" {

    task "run-worker" {
      leader = true
      driver = "raw_exec"

      config {
        command = "$CSI_ROOT_DIR/worker/components/worker/src/run_rlies1.sh"
        args    = ["${NOMAD_META_JOB_ID}"]
      }

      template {
        env         = true
        destination = "csi_config.env"
        data        = <<EOF
$CSI_CONFIG_ENV_FILE_CONTENT
EOF
      }

      template {
        env         = true
        destination = "${NOMAD_SECRETS_DIR}/csi_secrets.env"
        data        = <<EOF
$CSI_SECRETS_ENV_FILE_CONTENT
EOF
      }

      resources {
        cpu    = 50
        memory = 25000
      }
    }

    task "upload-nomad-alloc-dir" {
      driver = "raw_exec"

      // Time enough for the last upload after the interrupt.
      kill_timeout = "100s"

      // The script is given inline to bash (a heredoc inside the args list). Its
      // $NAMES are the shell's and ${NOMAD_*} are Nomad's: csi renders neither.
      config {
        command = "bash"
        args = [ "-c", <<EOF
          if [ -z "$CSI_BUCKET_NAME_SIP_RESULTS" ]; then
            echo "CSI_BUCKET_NAME_SIP_RESULTS is not set" >&2
            exit 1
          fi
          target=csi:$CSI_BUCKET_NAME_SIP_RESULTS/work/jobs/${NOMAD_META_JOB_UNIQUE_ID}/nomad/allocs

          upload () {
            # A frozen copy, without Nomad's FIFOs: rclone checksums what it sent.
            rm -rf snapshot
            cp -Rp ${NOMAD_ALLOC_DIR} snapshot
            find snapshot -type p -delete
            rclone sync snapshot $target/${NOMAD_ALLOC_ID}
            rclone copy $target/allocs_list.txt . || true
            touch allocs_list.txt
            grep -qxF "${NOMAD_ALLOC_ID}" allocs_list.txt \
              || echo "${NOMAD_ALLOC_ID}" >> allocs_list.txt
            rclone copy allocs_list.txt $target
          }

          # Nomad interrupts this task when the leader ends: one last upload.
          trap 'upload; exit' SIGINT
          while true; do
            upload
            sleep 1
          done
EOF
        ]
      }

      template {
        env         = true
        destination = "csi_config.env"
        data        = <<EOF
$CSI_CONFIG_ENV_FILE_CONTENT
EOF
      }
    }
  }
}
