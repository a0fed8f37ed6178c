# Shared by scripts/bench.sh and scripts/bench-restore.sh (sourced, not run).
# Expects: $root (the repository), $work (the benchmark's temporary directory).

say() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

now() { date +%s.%N; }
seconds_since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
mib() { awk -v b="$1" 'BEGIN { printf "%.0f", b / 1048576 }'; }
rate() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.1f", b / 1048576 / s }'; }
best() { printf '%s\n' "$@" | sort -g | head -n 1; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# A TCP port nobody listens on now.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for_port() { # $1: port, $2: pid of the process that should open it
    local i
    for ((i = 0; i < 100; i++)); do
        port_open "$1" && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# Runs a command in the background and samples its own peak resident memory (VmHWM:
# the process itself, not its children such as borg or psql) until it exits. Prints
# "seconds peak_kib"; fails, showing the command's output, when it fails.
measure() { # $1: output file, then the command
    local out=$1 start pid hwm=0 v
    shift
    start=$(now)
    "$@" >"$out" 2>&1 &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        v=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$pid/status" 2>/dev/null || true)
        [[ -n "$v" && "$v" -gt "$hwm" ]] && hwm=$v
        sleep 0.02
    done
    if ! wait "$pid"; then
        tail -n 30 "$out" >&2
        die "failed: $*"
    fi
    echo "$(seconds_since "$start") $hwm"
}

# ------------------------------------------------------------------ PostgreSQL

# A throwaway cluster with the cosims roles and schema (and the sandbox's seed when
# $2 is "seed"), on $pg_port.
pg_start() { # $1: directory, $2: seed|noseed
    mkdir -p "$1"
    # Production's server major (PostgreSQL 12, scripts/bootstrap.sh) when installed.
    if [[ -x "$root/tools/pg12/bin/postgres" ]]; then
        export PG_BINDIR="$root/tools/pg12/bin"
    fi
    bash "$root/scripts/lib/pg-cluster.sh" start "$1" "$pg_port" >/dev/null
    # As production: the roles, then the schema in the database `postgres`.
    psql -X -q -v ON_ERROR_STOP=1 -d postgres -f "$root/scripts/sandbox/cosims-roles.sql"
    psql -X -q -v ON_ERROR_STOP=1 -d "$db" -f "$root/scripts/sandbox/cosims-schema.sql"
    if [[ "$2" == seed ]]; then
        psql -X -q -v ON_ERROR_STOP=1 -d "$db" -f "$root/scripts/sandbox/cosims-seed.sql" >/dev/null
    fi
    # Autovacuum after one restore would slow the next one down: off, for fair timings.
    psql -X -q -d postgres -c "ALTER SYSTEM SET autovacuum = off" -c "SELECT pg_reload_conf()" >/dev/null
}

pg_stop() { # $1: directory
    bash "$root/scripts/lib/pg-cluster.sh" stop "$1" >/dev/null 2>&1 || true
}

# Each timing starts from a checkpoint, with no dirty buffers left by the one before.
settle() {
    psql -X -q -d postgres -c CHECKPOINT
    sync
    sleep 2
}

# ------------------------------------------------------------------------ borg

# csi.hcl with the one environment `bench`: the cluster on $pg_port, the repository
# $repo (the restore benchmarks).
restore_config() { # $1: file
    cat >"$1" <<EOF
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
    port = $pg_port
    user = "postgres"
    name = "$db"
  }
  borg {
    repository = "$repo"
  }
}
EOF
}

nightly() { # $1: repository, $2: archive name
    pg_dumpall | borg create --compression zstd --stdin-name database-all.sql "$1::$2" -
}

dump_size() { # $1: repository, $2: archive
    borg list --json-lines "$1::$2" | sed -n 's/.*"size": \([0-9]*\).*/\1/p'
}

# Rows of the production's shape (the real schema): parent jobs, FSC/RLIE jobs with
# their L1C, L2A and product paths, and their status history (three changes per job):
# about 1 KiB of dump per job, the job tables and job_status_changes dominating.
grow() { # $1: FSC/RLIE jobs to add
    local jobs=$1
    psql -X -q -v ON_ERROR_STOP=1 -d "$db" <<SQL
ALTER TABLE cosims.job_status_changes DISABLE TRIGGER ALL;
ALTER TABLE cosims.fsc_rlie_jobs DISABLE TRIGGER ALL;
CREATE TEMP TABLE new_parents AS
WITH ins AS (
  INSERT INTO cosims.parent_jobs (name, priority, nomad_id, tile_id, next_log_level, last_status_id,
                                  last_status_change_date, error_raised)
  SELECT 'job_' || g, (ARRAY['nrt','delayed','reprocessing'])[1 + g % 3],
         'si_processing/dispatch-' || md5(g::text), '3' || (g % 7) || 'T' || chr(65 + g % 26) || 'R',
         20, 3, now() - g * interval '7 seconds', g % 97 = 0
  FROM generate_series(1, $jobs) g
  RETURNING id)
SELECT id, row_number() OVER (ORDER BY id) AS n FROM ins;
INSERT INTO cosims.fsc_rlie_jobs (fk_parent_job_id, nrt, l1c_id, l1c_cloud_cover, l1c_snow_cover, l1c_path,
  l2a_path_in, l2a_path_out, fsc_path, rlie_path, measurement_date, l1c_sensing_time,
  l1c_esa_creation_date, l1c_esa_publication_date, fsc_completion_date, rlie_completion_date,
  fsc_json_publication_date, rlie_json_publication_date, maja_mode)
SELECT p.id, true, 'S2A_MSIL1C_20261120T102321_N0500_R065_T32TLR_' || p.id,
  (p.n % 10000) / 100.0, (p.n % 5000) / 100.0,
  '/eodata/Sentinel-2/MSI/L1C/2026/11/20/S2A_MSIL1C_20261120T102321_N0500_R065_T32TLR_' || p.id || '.SAFE',
  '/hrsi/l2a/' || md5(p.n::text) || '/L2A_T32TLR_' || p.id, '/hrsi/l2a/' || md5('o' || p.n) || '/L2A_T32TLR_' || p.id,
  '/hrsi/fsc/2026/11/20/' || md5('f' || p.n) || '/FSC_T32TLR.tif', '/hrsi/rlie/2026/11/20/' || md5('r' || p.n) || '/RLIE_T32TLR.tif',
  now() - p.n * interval '1 minute', now() - p.n * interval '1 minute', now() - p.n * interval '1 minute',
  now() - p.n * interval '1 minute', now(), now(), now(), now(), 'nominal'
FROM new_parents p;
INSERT INTO cosims.job_status_changes (fk_parent_job_id, time, error_subtype, error_message, job_status)
SELECT p.id, now() - p.n * interval '1 minute' + s * interval '1 second', NULL,
       CASE WHEN p.n % 50 = 0 THEN 'transient error while downloading the L1C product' END, s
FROM new_parents p, generate_series(1, 3) s;
ALTER TABLE cosims.job_status_changes ENABLE TRIGGER ALL;
ALTER TABLE cosims.fsc_rlie_jobs ENABLE TRIGGER ALL;
SQL
}

# Grows the database to about $2 GB of dump and archives it as $3 (a tenth of it first,
# archived as $4 when given, to show that memory does not follow the dump's size).
# Prints "big_bytes small_bytes".
make_dumps() { # $1: repository, $2: GB, $3: big archive, $4: small archive
    local repo=$1 gb=$2 small_jobs small_bytes big_jobs
    small_jobs=$(awk -v gb="$gb" 'BEGIN { printf "%d", gb * 1024 * 1024 * 1024 / 1040 / 10 }')
    say "generating the small dump"
    grow "$small_jobs"
    nightly "$repo" "$4"
    small_bytes=$(dump_size "$repo" "$4")
    # Rows per byte measured on the small dump; grow to the wanted size.
    big_jobs=$(awk -v gb="$gb" -v b="$small_bytes" -v j="$small_jobs" \
        'BEGIN { printf "%d", (gb * 1024 * 1024 * 1024 - b) * j / b + 1 }')
    say "generating the big dump ($big_jobs more jobs)"
    grow "$big_jobs"
    nightly "$repo" "$3"
    echo "$(dump_size "$repo" "$3") $small_bytes"
}

# The database holding the schema.
db=${BENCH_DB:-postgres}

# Every table of the schema with the number of rows the dump's COPY data has for it,
# one "schema.table count" a line, sorted.
dump_counts() { # $1: repository, $2: archive
    borg extract --stdout "$1::$2" database-all.sql | LC_ALL=C awk '
        copying && $0 == "\\." { copying = 0; print t, n; next }
        copying { n++; next }
        /^COPY cosims\.[^ ]+ .*FROM stdin;$/ { t = $2; n = 0; copying = 1 }' | LC_ALL=C sort
}

# The same counts, from the database now, for the tables of the file $1.
db_counts() { # $1: a dump_counts file
    local sql
    sql=$(awk '{ printf "%sSELECT %s || %s || count(*) FROM %s", (NR > 1 ? " UNION ALL " : ""), "'\''" $1 "'\''", "'\'' '\''", $1 }' "$1")
    psql -X -At -v ON_ERROR_STOP=1 -d "$db" -c "$sql" | LC_ALL=C sort
}

# The runbook, verified like csi: drop the schema by hand, pipe the whole dump into
# psql with ON_ERROR_STOP (the dump's CREATE ROLE and CREATE DATABASE lines, which
# fail on an existing cluster, filtered out), then the row count of every table
# checked against the dump's ($3). A pipe that failed, or lost rows, is not a figure.
# Prints the seconds (the drop included: csi drops the schema too).
run_pipe() { # $1: repository, $2: archive, $3: dump_counts file
    local start seconds
    settle
    start=$(now)
    if ! bare_pipe "$1" "$2" 2>"$work/pipe.err"; then
        tail -n 5 "$work/pipe.err" >&2
        die "the bare pipe failed: not a figure"
    fi
    seconds=$(seconds_since "$start")
    db_counts "$3" >"$work/pipe.counts"
    cmp -s "$3" "$work/pipe.counts" \
        || { diff "$3" "$work/pipe.counts" >&2; die "the bare pipe's row counts differ from the dump's: not a figure"; }
    echo "$seconds"
}

# The runbook's restore: the schema dropped by hand, then the whole dump piped into
# psql with ON_ERROR_STOP (the dump's CREATE ROLE and CREATE DATABASE lines, which fail
# on an existing cluster, filtered out).
bare_pipe() { # $1: repository, $2: archive
    psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c "SET client_min_messages = warning" -c "DROP SCHEMA cosims CASCADE" &&
        borg extract --stdout "$1::$2" database-all.sql |
        grep -v -x -E 'CREATE (ROLE [^ ;]+|DATABASE .*);' |
            psql -X -q -v ON_ERROR_STOP=1 -d postgres >/dev/null
}

# Where the time of one run goes (scripts/bench/profile.py), the server logging every
# statement's duration meanwhile: prints the profile's lines. $1: label, then the
# command (run after a checkpoint).
profile_run() {
    local label=$1 postmaster
    shift
    settle
    postmaster=$(head -n 1 "$work/pg/data/postmaster.pid")
    psql -X -q -d postgres -c "ALTER SYSTEM SET log_min_duration_statement = 0" -c "SELECT pg_reload_conf()" >/dev/null
    python3 "$root/scripts/bench/profile.py" --log "$work/pg/log" --postmaster "$postmaster" \
        --label "$label" -- "$@" || die "$label failed"
    psql -X -q -d postgres -c "ALTER SYSTEM RESET log_min_duration_statement" -c "SELECT pg_reload_conf()" >/dev/null
}

run_extract() { # $1: repository, $2: archive
    local start
    start=$(now)
    borg extract --stdout "$1::$2" database-all.sql >/dev/null
    seconds_since "$start"
}

# csi env restore-db of the archive (extra arguments after it), run as "${csi_cmd[@]}"
# (csi, its --config and --state-dir): prints "seconds peak_rss_kib load_seconds"
# (load: csi's own figure for the streaming phase).
run_csi_restore() { # $1: environment, $2: archive, then extra arguments
    local env=$1 archive=$2 seconds hwm load out
    shift 2
    settle
    out=$(measure "$work/csi.out" "${csi_cmd[@]}" \
        env restore-db "$env" --archive "$archive" --yes --keep-services --no-safety-backup "$@")
    read -r seconds hwm <<<"$out"
    load=$(sed -n 's/^restored and verified: .* in \([0-9.]*\)s .*/\1/p' "$work/csi.out")
    echo "$seconds $hwm ${load:-?}"
}
