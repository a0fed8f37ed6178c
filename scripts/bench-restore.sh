#!/usr/bin/env bash
# The restore part of scripts/bench.sh alone: `csi env restore-db` with 1, 2 and 4
# connections against the bare pipe of the runbook (`borg extract --stdout | psql`,
# with ON_ERROR_STOP, its row counts checked against the dump's), and --tables of two
# small tables, on the same archive, alternating. Prints the rows of the figures
# (target and PASS/FAIL each); exits 1 when a target is missed. Writes nothing into
# the README (scripts/bench.sh does).
#
#   scripts/bench-restore.sh [GB] [ROUNDS]     dump size (default 1.1), rounds (3)
#
# It starts a throwaway PostgreSQL cluster (scripts/lib/pg-cluster.sh) with the cosims
# schema, grows it to the wanted dump size with rows of the production's shape, makes a
# nightly-style archive (pg_dumpall | borg create --compression zstd --stdin-name
# database-all.sql) and a small one (to show csi's memory does not grow with the dump).
# Needs borg, psql, pg_dumpall, the PostgreSQL server binaries, cargo; about 4x the
# dump size of free disk in $TMPDIR. Everything is removed at the end.
set -euo pipefail
# A failure inside $(...) stops the run too, instead of becoming a figure.
shopt -s inherit_errexit

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
gb=${1:-1.1}
rounds=${2:-3}
work=$(mktemp -d "${TMPDIR:-/tmp}/csi-bench-XXXXXX")
chmod 755 "$work"
# shellcheck source=scripts/bench/lib.sh
source "$root/scripts/bench/lib.sh"
pg_port=$(free_port)
repo="$work/repo"

cleanup() {
    pg_stop "$work/pg"
    rm -rf -- "$work"
}
trap cleanup EXIT

unset PGHOST PGHOSTADDR PGPORT PGUSER PGDATABASE PGPASSWORD PGPASSFILE PGSERVICE PGOPTIONS PSQLRC
unset BORG_REPO BORG_PASSPHRASE BORG_PASSCOMMAND BORG_RSH CSI_CONFIG
export PGHOST=127.0.0.1 PGPORT=$pg_port PGUSER=postgres
export BORG_BASE_DIR="$work/borg-home" BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes
export LANG=C.UTF-8 LC_ALL=C.UTF-8 TZ=UTC

say "building csi (release)"
(cd "$root" && cargo build --release --quiet --bin csi)
csi="${CARGO_TARGET_DIR:-$root/target}/release/csi"
csi_cmd=(env -u PGHOST -u PGPORT -u PGUSER "$csi" --config "$work/csi.hcl" --state-dir "$work/state")

results=()
row() { results+=("$(printf '%-50s %-30s %-16s %s' "$1" "$2" "$3" "$4")"); }
verdict() { awk -v v="$1" -v op="$2" -v t="$3" \
    'BEGIN { ok = (op == "<") ? v < t : (op == "<=") ? v <= t : v >= t; print ok ? "PASS" : "FAIL" }'; }
source "$root/scripts/bench/figures.sh"

say "starting PostgreSQL on 127.0.0.1:$pg_port"
pg_start "$work/pg" seed
borg init --encryption=none "$repo" >/dev/null
restore_config "$work/csi.hcl"

figure_restore
cat <<EOF

restore figures, $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); PostgreSQL $(psql -X -At -d postgres -c 'show server_version' | cut -d' ' -f1), $(borg --version)
$(printf '%-50s %-30s %-16s %s' figure measured target result)
$(printf '%s\n' "${results[@]}")

$(printf '%s\n' "${details[@]}")
EOF
! printf '%s\n' "${results[@]}" | grep -q ' FAIL$'
