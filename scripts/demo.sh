#!/usr/bin/env bash
# Sets everything up on a fresh machine and rehearses the runbook on the sandbox,
# narrated. Every command is the real csi against real tofu, borg, PostgreSQL and the
# Nomad double, all on this machine. It can be run again: what a previous run did is
# taken as it is (e.g. a schema patch already applied is refused by the ledger).
#
# For tests, and for trees other than a developer's checkout:
#   CSI_DEMO_NO_BUILD=1     no bootstrap and no cargo build: csi is taken from PATH,
#                           the Nomad double from $CSI_NOMAD_DOUBLE
#   CSI_SANDBOX_PG_PORT, CSI_SANDBOX_NOMAD_PORT
#                           the sandbox's ports: csi.hcl names the default ones and
#                           wins over PGPORT/NOMAD_ADDR, so the demo runs csi with a
#                           copy of it that names these (.csi-ports.hcl, CSI_CONFIG)
#   CSI_DEMO_STEP_GATE=FIFO after each step, its marker `::step <id>` goes to stdout and
#                           the demo waits for a line on FIFO before going on
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

step() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }
run() { printf '$ %s\n' "$*" >&2; "$@"; }
note() { printf '(%s)\n' "$*" >&2; }

# The end of a step: a marker on stdout, then wait for a test to look, if one does.
mark() {
  printf '::step %s\n' "$1"
  if [[ -n "${CSI_DEMO_STEP_GATE:-}" ]]; then
    local _go
    IFS= read -r _go <"$CSI_DEMO_STEP_GATE"
  fi
}

# Runs a command that must end with the given exit code, e.g. a rollout that fails.
expect_exit() {
  local expected="$1" code=0
  shift
  run "$@" || code=$?
  if [[ "$code" != "$expected" ]]; then
    echo "demo: expected exit $expected, got $code" >&2
    exit 1
  fi
  note "exit $code, as expected"
}

sandbox() { run scripts/sandbox.sh "$@"; }

if [[ "${CSI_DEMO_NO_BUILD:-}" == 1 ]]; then
  command -v csi >/dev/null || { echo "demo: CSI_DEMO_NO_BUILD=1 but no csi on PATH" >&2; exit 1; }
else
  step "Install what csi drives (PostgreSQL, borg, OpenTofu) and build csi"
  scripts/bootstrap.sh
  export PATH="$root/tools/bin:$root/target/debug:$PATH"
  cargo build --workspace --quiet
fi

step "Bring the sandbox up: PostgreSQL with the cosims schema, borg with nightly dumps, module.cold applied"
sandbox up
if [[ -n "${CSI_SANDBOX_PG_PORT:-}${CSI_SANDBOX_NOMAD_PORT:-}${CSI_SANDBOX_SSH_PORT:-}${CSI_SANDBOX_DBHOST:-}" ]]; then
  pg_port="${CSI_SANDBOX_PG_PORT:-55432}"
  nomad_addr="http://127.0.0.1:${CSI_SANDBOX_NOMAD_PORT:-54646}"
  ssh_port="${CSI_SANDBOX_SSH_PORT:-54622}"
  dbhost="${CSI_SANDBOX_DBHOST:-/tmp/csi-sandbox-dbhost}"
  sed -e "s|^    port = 55432\$|    port = $pg_port|" \
      -e "s|^    port = 54622\$|    port = $ssh_port|" \
      -e "s|/tmp/csi-sandbox-dbhost|$dbhost|" \
      -e "s|\"http://127.0.0.1:54646\"|\"$nomad_addr\"|" csi.hcl >.csi-ports.hcl
  export CSI_CONFIG="$root/.csi-ports.hcl"
  note "sandbox ports overridden: csi reads .csi-ports.hcl (PostgreSQL port $pg_port, Nomad $nomad_addr, database host ssh port $ssh_port, paths under $dbhost)"
fi
mark up

step "The environments csi knows"
run csi env list

step "Preflight of the sandbox: tools, var files, Nomad, database, backups"
run csi env check sandbox

step "What a start would do: the saved plan, checked against the expected 13 creates"
run csi env plan sandbox start --allow-dirty

step "Start the sandbox (the work tree may be dirty in a developer's checkout: --allow-dirty)"
note "a start gives a new, empty Nomad server; the sandbox imitates it"
sandbox nomad-reset
run csi env start sandbox --yes --allow-dirty --no-wait
mark start

step "After a start the Nomad server is new: doctor finds the services missing and submits them"
run csi env doctor sandbox --fix --yes
mark doctor

step "The overview: terraform, every service, the database, backups, the lock, the last operation"
run csi env status sandbox
mark status

step "Job files and Nomad agree"
run csi env drift sandbox

step "Roll a new image of one service out: the file's tag rewritten, planned, registered with EnforceIndex, watched"
run csi env patch-image sandbox job-creation git-0123abcd --yes
mark patch-one

step "All six at once, watched concurrently"
run csi env patch-image sandbox --all git-4567cdef --yes
mark patch-all

step "A broken image (the double fails images matching baadf00d): the rollout fails and is reverted, file included"
expect_exit 6 csi env patch-image sandbox monitor git-baadf00d --yes
run csi env drift sandbox
mark rollout-reverted

step "A smaller node (3000 MHz) after a start: doctor finds the six services missing"
sandbox nomad-reset 3000
expect_exit 4 csi env doctor sandbox
mark doctor-pending

step "doctor --fix submits them; worker-pool-management (1500 MHz) cannot be placed (cpu exhausted): its CPU is lowered on the live job until it is"
run csi env doctor sandbox --fix --yes
run csi env doctor sandbox
mark doctor-fixed

step "System parameters: typed from the database catalog, old -> new, one transaction, history"
run csi env params sandbox get max_number_of_worker_instances
run csi env params sandbox set max_number_of_worker_instances 180 --yes
run csi env params sandbox history max_number_of_worker_instances
mark params

step "Processing images: one system parameter per job type, references checked before anything is written"
run csi env processing-image sandbox
expect_exit 2 csi env processing-image sandbox si registry.sandbox.invalid/cosims/cosims/SI_processing:git-0badc0de
run csi env processing-image sandbox si registry.sandbox.invalid/cosims/cosims/si_processing:git-0badc0de --yes
run csi env params sandbox history docker_image_for_si_processing
mark processing-image

step "A backup now, the way the nightly job makes it (pg_dumpall into borg, refused if incomplete)"
run csi env backup sandbox --yes
run csi env backups sandbox
mark backup

step "Stop: the newest backup is shown, the plan checked against 13 deletes"
run csi env stop sandbox --yes
mark stop

step "A long downtime, rehearsed: the sandbox makes its last stop look three days old"
sandbox age-stop 3
run csi env history sandbox --limit 1
mark age-stop

step "Start after three days down: csi measures the downtime and advises the wave restart"
sandbox nomad-reset
run csi env start sandbox --yes --allow-dirty --no-wait
run csi env doctor sandbox --fix --yes
mark start-long-downtime

three_days_ago=$(date -d '3 days ago' +%Y-%m-%d)
step "Restore the database from the nightly backup of $three_days_ago: services stopped, safety archive, one transaction, services back"
run csi env backups sandbox
run csi env restore-db sandbox --archive "$three_days_ago" --yes
mark restore-db

# Waits until the restart running in the background waits at the gate of wave $1;
# fails when the restart is over (nothing to do, or it ended).
wait_for_gate() {
  local wave="$1" pid="$2"
  while kill -0 "$pid" 2>/dev/null; do
    if csi env restart-waves sandbox --status --output json 2>/dev/null |
      grep -Eq "\"next\": ?\"wait for the gate of wave $wave\""; then
      return 0
    fi
    sleep 0.5
  done
  return 1
}

step "The wave restart: preflight parameters, then three waves, each once its job types caught up with NRT production"
note "the restart runs in the background; the sandbox produces what the gates wait for (scripts/sandbox.sh produce)"
printf '$ %s &\n' "csi env restart-waves sandbox --yes" >&2
csi env restart-waves sandbox --yes >&2 &
waves_pid=$!
trap 'kill "$waves_pid" 2>/dev/null || true' EXIT
waves_seen=0
for wave in 1 2 3; do
  wait_for_gate "$wave" "$waves_pid" || break
  waves_seen=$wave
  run csi env restart-waves sandbox --status
  run csi env params sandbox get job_types_list
  mark "wave-$wave"
  sandbox produce
done
wait "$waves_pid"
trap - EXIT
if ((waves_seen == 0)); then
  note "no wave to run: the restart after this downtime was already done"
fi
run csi env restart-waves sandbox --status
run csi env params sandbox get job_types_list
mark waves-done

step "Stuck jobs: those in error walked error_checked -> ready through the database's own trigger"
run csi env jobs sandbox list --status internal_error,external_error --limit 5
run csi env jobs sandbox retry --dry-run
run csi env jobs sandbox retry --yes --pause 0s
mark jobs-retry

patch_file=patch/0001_job_status_changes_time_index.sql
step "A schema patch, rehearsed first on a throwaway cluster: nothing applied"
ledger=$(run csi env db-patch sandbox --list)
printf '%s\n' "$ledger"
if grep -qF "$(basename "$patch_file")" <<<"$ledger"; then
  note "already applied on this sandbox: the ledger refuses it a second time"
  expect_exit 4 csi env db-patch sandbox "$patch_file" --dry-run
  mark db-patch-rehearsed
  expect_exit 4 csi env db-patch sandbox "$patch_file" --yes
else
  run csi env db-patch sandbox "$patch_file" --dry-run
  mark db-patch-rehearsed
  step "Then applied: rehearsed again, safety backup, one transaction with its ledger row"
  run csi env db-patch sandbox "$patch_file" --yes
fi
run csi env db-patch sandbox --list
mark db-patch-applied

upgrade_file=patch/0002_parent_jobs_operator_note.sql
step "An upgrade in one command, planned first: nothing changes"
if grep -qF "$(basename "$upgrade_file")" <<<"$(csi env db-patch sandbox --list)"; then
  note "the migration is in this sandbox's ledger already: the upgrade goes without it"
  migrate=()
else
  migrate=(--migrate "$upgrade_file")
fi
run csi env upgrade sandbox --tag git-89abcdef "${migrate[@]}" --dry-run
mark upgrade-planned

step "Then run: rehearsal, safety backup pre-upgrade-<time>, the migration with its ledger row, the six services rolled out together"
run csi env upgrade sandbox --tag git-89abcdef "${migrate[@]}" --yes
run csi env drift sandbox
run csi env db-patch sandbox --list
mark upgrade-done

step "An upgrade to a broken image: every service back on its previous version, in Nomad and in the files (exit 6)"
expect_exit 6 csi env upgrade sandbox --tag git-baadf00d --yes
run csi env drift sandbox
mark upgrade-rolled-back

step "The dashboard: the build streamed over ssh to the web host, unpacked beside html, swapped in atomically, the old one kept as html.prev, verified"
if [[ -x /usr/sbin/sshd ]]; then
  build="$root/.sandbox/dashboard-build"
  mkdir -p "$build"
  printf '<!doctype html><title>HR-S&amp;I dashboard</title><p>build of %s</p>\n' "$(date -u +%FT%TZ)" >"$build/index.html"
  run csi env deploy-dashboard sandbox "$build" --yes
  mark dashboard-deployed
  step "A rollback swaps html.prev back in (a second rollback would swap them again)"
  run csi env deploy-dashboard sandbox --rollback --yes
  mark dashboard-rolled-back
else
  note "no sshd on this machine (scripts/bootstrap.sh installs openssh-server): the dashboard deploy is skipped"
fi

step "The overview"
run csi env status sandbox

step "Stop it again"
run csi env stop sandbox --yes
mark stop-again

step "Everything csi did is in the environment's journal"
run csi env history sandbox
mark history

step "Done. The sandbox keeps running; scripts/sandbox.sh down stops it, reset wipes it."
