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

step "Stop it again: the newest backup is shown, the plan checked against 13 deletes"
run csi env stop sandbox --yes

step "Everything csi did is in the environment's journal"
run csi env history sandbox

step "Done. The sandbox keeps running; scripts/sandbox.sh down stops it, reset wipes it."
