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

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
gb=${1:-1.1}
work=$(mktemp -d "${TMPDIR:-/tmp}/csi-bench-XXXXXX")
chmod 755 "$work"
port=$((20000 + RANDOM % 20000))
pgdir="$work/pg"
repo="$work/repo"

cleanup() {
    bash "$root/scripts/lib/pg-cluster.sh" stop "$pgdir" >/dev/null 2>&1 || true
    rm -rf -- "$work"
}
trap cleanup EXIT

say() { printf 'bench: %s\n' "$*" >&2; }

export PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres
unset PGDATABASE PGPASSWORD PGSERVICE
export BORG_BASE_DIR="$work/borg-home" BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes
export LANG=C.UTF-8 LC_ALL=C.UTF-8 TZ=UTC
unset BORG_REPO BORG_PASSPHRASE BORG_PASSCOMMAND

say "building csi (release)"
(cd "$root" && cargo build --release --quiet --bin csi)
csi="${CARGO_TARGET_DIR:-$root/target}/release/csi"

say "starting PostgreSQL on 127.0.0.1:$port"
mkdir -p "$pgdir"
bash "$root/scripts/lib/pg-cluster.sh" start "$pgdir" "$port" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d postgres -f "$root/scripts/sandbox/cosims-roles.sql"
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE cosims OWNER cosims_admin"
psql -X -q -v ON_ERROR_STOP=1 -d cosims -f "$root/scripts/sandbox/cosims-schema.sql"
psql -X -q -v ON_ERROR_STOP=1 -d cosims -f "$root/scripts/sandbox/cosims-seed.sql"
borg init --encryption=none "$repo" >/dev/null
# Autovacuum after one restore would slow the next one down: off, for fair timings.
psql -X -q -d postgres -c "ALTER SYSTEM SET autovacuum = off" -c "SELECT pg_reload_conf()" >/dev/null

# Rows of realistic shape: parent jobs, FSC/RLIE jobs with their product paths, and
# their status history (about 450, 100 and 90 bytes per dumped row).
grow() { # $1: FSC/RLIE jobs to add
    local jobs=$1
    psql -X -q -v ON_ERROR_STOP=1 -d cosims <<SQL
ALTER TABLE cosims.job_status_changes DISABLE TRIGGER ALL;
ALTER TABLE cosims.fsc_rlie_jobs DISABLE TRIGGER ALL;
CREATE TEMP TABLE new_parents AS
WITH ins AS (
  INSERT INTO cosims.parent_jobs (name, priority, tile_id, nomad_job_dispatch, last_status_id,
                                  last_status_change_date, error_raised, creation_date)
  SELECT 'fsc_rlie_job', (ARRAY['nrt','delayed','reprocessing'])[1 + g % 3],
         'T3' || (g % 7) || 'T' || chr(65 + g % 26) || 'R', 'si_processing/dispatch-' || md5(g::text),
         12, now() - g * interval '7 seconds', g % 97 = 0, now() - g * interval '7 seconds'
  FROM generate_series(1, $jobs) g
  RETURNING id)
SELECT id, row_number() OVER (ORDER BY id) AS n FROM ins;
INSERT INTO cosims.fsc_rlie_jobs (fk_parent_job_id, nomad_job_id, tile_id, l1c_id, l1c_path, l1c_cloud_cover,
  l1c_esa_creation_date, l1c_esa_publication_date, l2a_path, measurement_date, fsc_id, rlie_id, fsc_path,
  rlie_path, fsc_completion_date, rlie_completion_date, fsc_json_publication_date, rlie_json_publication_date)
SELECT p.id, 'si_processing/dispatch-' || md5(p.n::text),
  'T32TLR', 'S2A_MSIL1C_20261120T102321_N0500_R065_T32TLR_' || p.n,
  '/eodata/Sentinel-2/MSI/L1C/2026/11/20/S2A_MSIL1C_20261120T102321_N0500_R065_T32TLR_' || p.n || '.SAFE',
  (p.n % 10000) / 100.0, now() - p.n * interval '1 minute', now() - p.n * interval '1 minute',
  '/hrsi/l2a/' || md5(p.n::text) || '/L2A_T32TLR_' || p.n, now() - p.n * interval '1 minute',
  'FSC_20261120T102321_S2A_T32TLR_V102_' || p.n, 'RLIE_20261120T102321_S2A_T32TLR_V102_' || p.n,
  '/hrsi/fsc/2026/11/20/' || md5('f' || p.n) || '/FSC_T32TLR.tif', '/hrsi/rlie/2026/11/20/' || md5('r' || p.n) || '/RLIE_T32TLR.tif',
  now(), now(), now(), now()
FROM new_parents p;
INSERT INTO cosims.job_status_changes (fk_parent_job_id, time, error_subtype, error_message, job_status)
SELECT p.id, now() - p.n * interval '1 minute' + s * interval '1 second', NULL,
       CASE WHEN p.n % 50 = 0 THEN 'transient error while downloading the L1C product' END, s
FROM new_parents p, generate_series(1, 3) s;
ALTER TABLE cosims.job_status_changes ENABLE TRIGGER ALL;
ALTER TABLE cosims.fsc_rlie_jobs ENABLE TRIGGER ALL;
SQL
}

nightly() { # $1: archive name
    pg_dumpall | borg create --compression zstd --stdin-name database-all.sql "$repo::$1" -
}

dump_size() { # $1: archive
    borg list --json-lines "$repo::$1" | sed -n 's/.*"size": \([0-9]*\).*/\1/p'
}

# About 1 KiB of dump per job: a tenth of the wanted size for the small dump.
small_jobs=$(awk -v gb="$gb" 'BEGIN { printf "%d", gb * 1024 * 1024 * 1024 / 1040 / 10 }')
say "generating the small dump"
grow "$small_jobs"
nightly pgdump_2026-11-19T04:00:00
small_bytes=$(dump_size pgdump_2026-11-19T04:00:00)
# Rows per byte measured on the small dump; grow to the wanted size.
big_jobs=$(awk -v gb="$gb" -v b="$small_bytes" -v j="$small_jobs" \
    'BEGIN { printf "%d", (gb * 1024 * 1024 * 1024 - b) * j / b + 1 }')
say "generating the big dump ($big_jobs more jobs)"
grow "$big_jobs"
nightly pgdump_2026-11-20T04:00:00
big_bytes=$(dump_size pgdump_2026-11-20T04:00:00)

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

now() { date +%s.%N; }

# Each timing starts from a checkpoint, with no dirty buffers left by the one before.
settle() {
    psql -X -q -d postgres -c CHECKPOINT
    sync
    sleep 2
}

# Runs csi, prints "seconds peak_rss_kib load_seconds" (load: csi's own figure for the
# streaming phase, without the archive listing and connection checks before it).
run_csi() { # $1: archive
    local start end pid hwm=0 v
    settle
    start=$(now)
    "$csi" --config "$work/csi.hcl" --state-dir "$work/state" env restore-db bench \
        --archive "$1" --yes --keep-services --no-safety-backup >"$work/csi.out" 2>&1 &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        v=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$pid/status" 2>/dev/null || true)
        [[ -n "$v" && "$v" -gt "$hwm" ]] && hwm=$v
        sleep 0.05
    done
    if ! wait "$pid"; then
        cat "$work/csi.out" >&2
        echo "bench: csi failed" >&2
        exit 1
    fi
    end=$(now)
    load=$(sed -n 's/^restored and verified: .* in \([0-9.]*\)s .*/\1/p' "$work/csi.out")
    echo "$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }') $hwm ${load:-?}"
}

# The runbook: drop the schema by hand, pipe the whole dump into psql (both timed: csi
# drops the schema too, inside its transaction).
run_pipe() { # $1: archive
    local start end
    settle
    start=$(now)
    psql -X -q -d cosims -c "SET client_min_messages = warning" -c "DROP SCHEMA cosims CASCADE"
    borg extract --stdout "$repo::$1" database-all.sql | psql -X -q -d postgres >/dev/null 2>"$work/pipe.err" || true
    end=$(now)
    awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }'
}

run_extract() { # $1: archive
    local start end
    start=$(now)
    borg extract --stdout "$repo::$1" database-all.sql >/dev/null
    end=$(now)
    awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }'
}

mib() { awk -v b="$1" 'BEGIN { printf "%.0f", b / 1048576 }'; }
rate() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.1f", b / 1048576 / s }'; }

big=pgdump_2026-11-20T04:00:00
small=pgdump_2026-11-19T04:00:00
say "borg extract alone (also warms the caches)"
extract_s=$(run_extract "$big")
say "restoring $(mib "$big_bytes") MiB, three times each way, alternating"
pipes=() csis=() loads=() rss_big=0
for _ in 1 2 3; do
    pipes+=("$(run_pipe "$big")")
    read -r seconds rss load <<<"$(run_csi "$big")"
    csis+=("$seconds") loads+=("$load")
    ((rss > rss_big)) && rss_big=$rss
done
say "restoring the small dump ($(mib "$small_bytes") MiB) with csi"
read -r _ rss_small _ <<<"$(run_csi "$small")"

# The machine may be shared: the fastest of each is the least disturbed.
best() { printf '%s\n' "$@" | sort -g | head -n 1; }
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
