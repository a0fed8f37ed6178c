#!/usr/bin/env bash
# Sets everything up on a fresh machine and rehearses the runbook on the sandbox,
# narrated. Every command is the real csi against real tofu, borg, PostgreSQL and the
# Nomad double, all on this machine.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

step() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }
run() { printf '$ %s\n' "$*" >&2; "$@"; }

step "Install what csi drives (PostgreSQL, borg, OpenTofu) and build csi"
scripts/bootstrap.sh
export PATH="$root/tools/bin:$root/target/debug:$PATH"
cargo build --workspace --quiet

step "Bring the sandbox up: PostgreSQL with the cosims schema, borg with nightly dumps, module.cold applied"
scripts/sandbox.sh up

step "The environments csi knows"
run csi env list

step "Preflight of the sandbox: tools, var files, Nomad, database, backups"
run csi env check sandbox

step "What a start would do: the saved plan, checked against the expected 13 creates"
run csi env plan sandbox start --allow-dirty

step "Start the sandbox (the work tree may be dirty in a developer's checkout: --allow-dirty)"
run csi env start sandbox --yes --allow-dirty --no-wait

step "After a start the Nomad server is new: doctor finds services missing or pending and resubmits them"
run csi env doctor sandbox --fix --yes

step "Job files and Nomad agree"
run csi env drift sandbox

step "Roll a new image of one service out: the file's tag rewritten, planned, registered with EnforceIndex, watched"
run csi env patch-image sandbox job-creation git-0123abcd --yes

step "All six at once, watched concurrently"
run csi env patch-image sandbox --all git-4567cdef --yes

step "A broken image (the double fails images matching baadf00d): the rollout fails and is reverted, file included"
if run csi env patch-image sandbox monitor git-baadf00d --yes; then
  echo "unexpected: the broken image rolled out" >&2; exit 1
else
  echo "(exit $?: rolled back, as expected)" >&2
fi
run csi env drift sandbox

step "System parameters: typed from the database catalog, old -> new, one transaction, history"
run csi env params sandbox get max_number_of_worker_instances
run csi env params sandbox set max_number_of_worker_instances 180 --yes
run csi env params sandbox history max_number_of_worker_instances

step "A backup now, the way the nightly job makes it (pg_dumpall into borg, refused if incomplete)"
run csi env backup sandbox --yes
run csi env backups sandbox

step "Stuck jobs: those in error walked error_checked -> ready through the database's own trigger"
run csi env jobs sandbox list --status internal_error,external_error --limit 5
run csi env jobs sandbox retry --dry-run
run csi env jobs sandbox retry --yes --pause 0s

step "A schema patch: rehearsed on a throwaway cluster, safety backup, applied once, recorded"
if ! run csi env db-patch sandbox patch/0001_job_status_changes_time_index.sql --yes; then
  echo "(already applied on this sandbox: the ledger refuses it a second time)" >&2
fi
run csi env db-patch sandbox --list

step "The overview"
run csi env status sandbox

step "Stop it again: the newest backup is shown, the plan checked against 13 deletes"
run csi env stop sandbox --yes

step "Everything csi did is in the environment's journal"
run csi env history sandbox

step "Done. The sandbox keeps running; scripts/sandbox.sh down stops it, reset wipes it."
