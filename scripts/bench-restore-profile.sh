#!/usr/bin/env bash
# Where the time of a restore goes, phase by phase, measured: the same archive as
# scripts/bench-restore.sh (a dump of the real schema's shape), restored by each RUN
# while scripts/bench/profile.py samples the CPU of every process (PostgreSQL backends,
# the server's own processes, psql, csi, borg) and the server logs every statement
# with its duration. Prints one block per run: the phases (statements before the data,
# COPY, constraints, indexes, foreign keys, verification, swap, ANALYZE) with their
# wall time, statement time summed over the connections and the CPU used meanwhile;
# the COPY of the largest tables; each connection's busy time.
#
#   scripts/bench-restore-profile.sh [--keep DIR] [GB] [RUN...]
#
#   GB      dump size (default 1.1)
#   RUN     extract (borg extract alone), pipe (the runbook's bare pipe), or a number N
#           (csi env restore-db --jobs N); default: extract pipe 1 2 4
#   --keep DIR   build the cluster and archive in DIR and keep them, or reuse them
#                when DIR holds them already (for repeated profiles)
#
# Writes nothing into the README. Needs what scripts/bench-restore.sh needs.
set -euo pipefail
shopt -s inherit_errexit

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
keep=""
if [[ "${1:-}" == --keep ]]; then
    keep=$2
    shift 2
fi
gb=${1:-1.1}
shift || true
runs=("$@")
((${#runs[@]})) || runs=(extract pipe 1 2 4)

if [[ -n "$keep" ]]; then
    mkdir -p "$keep"
    work=$(cd "$keep" && pwd)
else
    work=$(mktemp -d "${TMPDIR:-/tmp}/csi-profile-XXXXXX")
fi
chmod 755 "$work"
# shellcheck source=scripts/bench/lib.sh
source "$root/scripts/bench/lib.sh"
repo="$work/repo"
big=pgdump_2026-11-20T04:00:00

cleanup() {
    pg_stop "$work/pg"
    [[ -n "$keep" ]] || rm -rf -- "$work"
}
trap cleanup EXIT

unset PGHOST PGHOSTADDR PGPORT PGUSER PGDATABASE PGPASSWORD PGPASSFILE PGSERVICE PGOPTIONS PSQLRC
unset BORG_REPO BORG_PASSPHRASE BORG_PASSCOMMAND BORG_RSH CSI_CONFIG
if [[ -f "$work/port" ]]; then
    pg_port=$(cat "$work/port")
else
    pg_port=$(free_port)
fi
export PGHOST=127.0.0.1 PGPORT=$pg_port PGUSER=postgres
export BORG_BASE_DIR="$work/borg-home" BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes
export LANG=C.UTF-8 LC_ALL=C.UTF-8 TZ=UTC

if [[ -f "$work/ready" ]]; then
    say "reusing the cluster and archive in $work"
    [[ -x "$root/tools/pg12/bin/postgres" ]] && export PG_BINDIR="$root/tools/pg12/bin"
    bash "$root/scripts/lib/pg-cluster.sh" start "$work/pg" "$pg_port" >/dev/null
else
    say "starting PostgreSQL on 127.0.0.1:$pg_port"
    echo "$pg_port" >"$work/port"
    pg_start "$work/pg" seed
    borg init --encryption=none "$repo" >/dev/null
    make_dumps "$repo" "$gb" "$big" pgdump_2026-11-19T04:00:00 >/dev/null
    touch "$work/ready"
fi
restore_config "$work/csi.hcl"
say "building csi (release)"
(cd "$root" && cargo build --release --quiet --bin csi)
csi="${CARGO_TARGET_DIR:-$root/target}/release/csi"
csi_cmd=(env -u PGHOST -u PGPORT -u PGUSER "$csi" --config "$work/csi.hcl" --state-dir "$work/state")

bytes=$(dump_size "$repo" "$big")


printf 'restore profile, %s; %s cores, load average %s; dump %s MiB; PostgreSQL %s\n' \
    "$(date -u '+%Y-%m-%d %H:%M UTC')" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)" "$(mib "$bytes")" \
    "$(psql -X -At -d postgres -c 'show server_version' | cut -d' ' -f1)"
export -f bare_pipe
export db
for run in "${runs[@]}"; do
    case "$run" in
        extract)
            profile_run "borg extract alone" bash -c "borg extract --stdout '$repo::$big' database-all.sql >/dev/null" ;;
        pipe)
            profile_run "bare pipe (DROP SCHEMA, then borg extract | psql)" bash -c 'bare_pipe "$@"' _ "$repo" "$big" ;;
        [0-9]*)
            profile_run "csi env restore-db --jobs $run" "${csi_cmd[@]}" env restore-db bench --archive "$big" \
                --yes --keep-services --no-safety-backup --jobs "$run" ;;
        *) die "unknown run $run" ;;
    esac
done
