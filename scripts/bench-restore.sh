#!/usr/bin/env bash
# Benchmark of `csi env restore-db` against the bare pipe of the runbook
# (`borg extract --stdout REPO::ARCHIVE database-all.sql | psql`), on the same archive,
# in the same run. Prints figures; asserts nothing.
#
#   scripts/bench-restore.sh [GB]      dump size to generate (default 1.1)
#
# It starts a throwaway PostgreSQL cluster (scripts/lib/pg-cluster.sh) with the cosims
# sandbox schema, grows it to the wanted dump size, makes a nightly-style archive
# (pg_dumpall | borg create --compression zstd --stdin-name database-all.sql), a small
# archive too (to show csi's memory does not grow with the dump), then restores each
# way, alternating, twice. csi's peak RSS is its own (VmHWM of the csi process, not of
# borg or psql). Needs borg, psql, pg_dumpall, the PostgreSQL server binaries, cargo;
# about 4x the dump size of free disk in $TMPDIR. Everything is removed at the end.
set -euo pipefail
# A failure inside $(...) stops the run too, instead of becoming a figure.
shopt -s inherit_errexit

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
gb=${1:-1.1}
work=$(mktemp -d "${TMPDIR:-/tmp}/csi-bench-XXXXXX")
chmod 755 "$work"
port=$((20000 + RANDOM % 20000))
pgdir="$work/pg"
repo="$work/repo"

pg_port=$port
# shellcheck source=scripts/bench/lib.sh
source "$root/scripts/bench/lib.sh"

cleanup() {
    pg_stop "$pgdir"
    rm -rf -- "$work"
}
trap cleanup EXIT

export PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres
unset PGDATABASE PGPASSWORD PGSERVICE
export BORG_BASE_DIR="$work/borg-home" BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes
export LANG=C.UTF-8 LC_ALL=C.UTF-8 TZ=UTC
unset BORG_REPO BORG_PASSPHRASE BORG_PASSCOMMAND

say "building csi (release)"
(cd "$root" && cargo build --release --quiet --bin csi)
csi="${CARGO_TARGET_DIR:-$root/target}/release/csi"
csi_cmd=("$csi" --config "$work/csi.hcl" --state-dir "$work/state")

say "starting PostgreSQL on 127.0.0.1:$port"
pg_start "$pgdir" seed
borg init --encryption=none "$repo" >/dev/null
big=pgdump_2026-11-20T04:00:00
small=pgdump_2026-11-19T04:00:00
out=$(make_dumps "$repo" "$gb" "$big" "$small")
read -r big_bytes small_bytes <<<"$out"

cat >"$work/csi.hcl" <<EOF
environment "bench" {
  terraform {
    dir                    = "/nonexistent"
    configuration_var_file = "c.tfvars"
    secrets_var_file       = "s.tfvars"
  }
  nomad {
    address = "http://127.0.0.1:9"
  }
  database {
    host = "127.0.0.1"
    port = $port
    user = "postgres"
    name = "cosims"
  }
  borg {
    repository = "$repo"
  }
}
EOF

say "borg extract alone (also warms the caches)"
extract_s=$(run_extract "$repo" "$big")
say "restoring $(mib "$big_bytes") MiB, three times each way, alternating"
pipes=() csis=() loads=() rss_big=0
for _ in 1 2 3; do
    pipes+=("$(run_pipe "$repo" "$big")")
    out=$(run_csi_restore bench "$big")
    read -r seconds rss load <<<"$out"
    csis+=("$seconds") loads+=("$load")
    ((rss > rss_big)) && rss_big=$rss
done
say "restoring the small dump ($(mib "$small_bytes") MiB) with csi"
out=$(run_csi_restore bench "$small")
read -r _ rss_small _ <<<"$out"

# The machine may be shared: the fastest of each is the least disturbed.
pipe_best=$(best "${pipes[@]}")
csi_best=$(best "${csis[@]}")
load_best=$(best "${loads[@]}")

cat <<EOF

restore benchmark ($(nproc) cores, PostgreSQL $(psql -X -At -d postgres -c 'show server_version' | cut -d' ' -f1), $(borg --version))
  dump                          $(mib "$big_bytes") MiB ($big_bytes bytes), archive $big
  borg extract alone            ${extract_s} s  ($(rate "$big_bytes" "$extract_s") MiB/s)
  bare pipe (runbook)           ${pipes[*]} s  (best $(rate "$big_bytes" "$pipe_best") MiB/s)
  csi env restore-db            ${csis[*]} s  (best $(rate "$big_bytes" "$csi_best") MiB/s)
    streaming (csi's figure)    ${loads[*]} s  (best $(rate "$big_bytes" "$load_best") MiB/s)
  csi / bare pipe throughput    $(awk -v p="$pipe_best" -v c="$csi_best" 'BEGIN { printf "%.2fx", p / c }') whole command, $(awk -v p="$pipe_best" -v c="$load_best" 'BEGIN { printf "%.2fx", p / c }') streaming
  csi peak RSS                  $((rss_big / 1024)) MiB on $(mib "$big_bytes") MiB, $((rss_small / 1024)) MiB on $(mib "$small_bytes") MiB
EOF
