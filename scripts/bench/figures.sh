# scripts/bench.sh: each figure; each adds a row to the table (sourced).

details=()
detail() { details+=("$*"); }

# csi --help, 50 times: the process's whole life, from exec to exit.
figure_startup() {
    say "csi --help startup, 50 runs"
    local i start times=() mean
    for ((i = 0; i < 50; i++)); do
        start=$(date +%s%N)
        "$csi" --help >/dev/null
        times+=("$(( ($(date +%s%N) - start) / 1000 ))")
    done
    mean=$(printf '%s\n' "${times[@]}" | awk '{ s += $1 } END { printf "%.1f", s / NR / 1000 }')
    local med
    med=$(awk -v m="$(median "${times[@]}")" 'BEGIN { printf "%.1f", m / 1000 }')
    row "csi --help startup (median of 50)" "$med ms (mean $mean ms)" "< 20 ms" "$(verdict "$med" "<" 20)"
}

# env status of the `slow` environment with the tools of $1 first on PATH, $rounds + 2
# runs after one warm-up, every section checked to have answered; sets `wall` (median s)
# and `per_source` (median ms of each source).
measure_status() {
    local tools=$1 i start walls=() tf=() nomad=() db=() backup=() line
    for ((i = -1; i < rounds + 2; i++)); do
        start=$(now)
        PATH="$tools:$PATH" "${csi_cmd[@]}" env status slow --output json >"$work/status.json" 2>"$work/status.err" \
            || { cat "$work/status.err" >&2; die "csi env status failed"; }
        ((i < 0)) && continue
        walls+=("$(seconds_since "$start")")
        line=$(python3 - "$work/status.json" <<'PY'
import json, sys
o = json.load(open(sys.argv[1]))
down = [k for k in ("terraform", "nomad", "database", "backup") if o[k]["state"] != "available"]
if down:
    sys.exit("unavailable: " + ", ".join(f"{k} ({o[k]['value']['reason']})" for k in down))
e = o["elapsed_ms"]
print(e["terraform"], e["nomad"], e["database"], e["backup"])
PY
        ) || die "env status: a source did not answer, the timing would mean nothing"
        read -r a b c d <<<"$line"
        tf+=("$a") nomad+=("$b") db+=("$c") backup+=("$d")
    done
    wall=$(median "${walls[@]}")
    per_source="terraform $(median "${tf[@]}") ms, nomad $(median "${nomad[@]}") ms, database $(median "${db[@]}") ms, borg $(median "${backup[@]}") ms"
}

figure_status() {
    say "env status with every source answering in 200 ms, then with the real borg, $((rounds + 2)) runs each"
    local wall per_source
    measure_status "$work/answering"
    row "env status, every source answering in 200 ms" "$wall s (median of $((rounds + 2)))" "< 0.5 s" "$(verdict "$wall" "<" 0.5)"
    detail "env status, median per source: $per_source"
    measure_status "$work/slow"
    row "  the same with the real borg (its start + 200 ms)" "$wall s" "-" "-"
    detail "  with the real borg: $per_source"
    local bare_borg start
    start=$(now)
    borg list --json --last 1 "$repo" >/dev/null
    bare_borg=$(seconds_since "$start")
    detail "  borg list --last 1 alone, without the 200 ms: $bare_borg s (python's start-up and imports)"
}

# patch-image of one service vs all six, alternating, each to a new tag.
figure_patch_image() {
    say "patch-image: one service vs six, $rounds rounds each"
    local i ones=() alls=() seconds out
    for ((i = 1; i <= rounds; i++)); do
        out=$(measure "$work/patch.out" "${csi_cmd[@]}" \
            env patch-image bench job-creation "git-$(printf '1%07d' "$i")" --yes)
        read -r seconds _ <<<"$out"
        ones+=("$seconds")
        out=$(measure "$work/patch.out" "${csi_cmd[@]}" \
            env patch-image bench --all "git-$(printf '2%07d' "$i")" --yes)
        read -r seconds _ <<<"$out"
        alls+=("$seconds")
    done
    local one all ratio
    one=$(best "${ones[@]}") all=$(best "${alls[@]}")
    ratio=$(awk -v a="$all" -v o="$one" 'BEGIN { printf "%.2f", a / o }')
    row "patch-image six services vs one" "${ratio}x ($all s vs $one s)" "<= 1.5x" "$(verdict "$ratio" "<=" 1.5)"
    detail "patch-image against the double (200 ms per request, deployments healthy after 2 s): one ${ones[*]} s, six ${alls[*]} s"
}

# A broken image of all six services, against production's Nomad (0.11.1) and the current
# release, each a double of its own with Nomad's defaults (no update block: healthy
# deadline 5 min, progress deadline 10 min, no auto-revert) and csi's defaults (no
# deploy_timeout): from the command's start to its exit, every service failed and
# reverted by csi from what the allocations show, not at Nomad's deadline.
figure_broken_image() {
    local version port pid config out start seconds code reverted cmd
    for version in 0.11.1 2.0.5; do
        say "broken image of six services, Nomad $version"
        port=$(free_port)
        "$double" --bind "127.0.0.1:$port" --nomad-version "$version" --fail-image-pattern baadf00d \
            --cpu-capacity 20000 --deploy-seconds 1 >"$work/double-$version.log" 2>&1 &
        pid=$!
        started_pids+=("$pid")
        wait_for_port "$port" "$pid" || { cat "$work/double-$version.log" >&2; die "the Nomad $version double did not start"; }
        mkdir -p "$work/nomad-$version"
        cp "$root"/nomad/*.nomad "$work/nomad-$version/"
        config="$work/csi-$version.hcl"
        sed -e "s|127.0.0.1:$nomad_port\"|127.0.0.1:$port\"|" -e "s|\"$work/nomad\"|\"$work/nomad-$version\"|" \
            -e '/deploy_timeout/d' "$work/csi.hcl" >"$config"
        cmd=(env -u PGHOST -u PGPORT -u PGUSER "$csi" --config "$config" --state-dir "$work/state-$version")
        out="$work/broken-$version.out"
        "${cmd[@]}" env doctor bench --fix --yes >"$out" 2>&1 \
            || { tail -n 20 "$out" >&2; die "submitting the six services to the Nomad $version double failed"; }
        start=$(now)
        code=0
        "${cmd[@]}" env patch-image bench --all git-baadf00d --yes >"$out" 2>&1 || code=$?
        seconds=$(seconds_since "$start")
        reverted=$(grep -cE '^[a-z-]+: version [0-9]+ failed.*reverted to version' "$out" || true)
        # exit 6: failed and reverted; anything else is not a figure.
        if [[ $code != 6 || $reverted != 6 ]]; then
            tail -n 30 "$out" >&2
            die "Nomad $version: expected exit 6 and six services reverted, got exit $code and $reverted"
        fi
        kill "$pid" 2>/dev/null || true
        row "broken image of six services reverted, Nomad $version" "$seconds s" "< 60 s" "$(verdict "$seconds" "<" 60)"
    done
    detail "broken image: the doubles at Nomad's defaults (restart delays 15 s to 1 min, progress deadline 10 min); the new image's first failed pull decides, crashes are left to csi's restart budget"
}

# jobs retry of N jobs in internal_error: csi's own peak RSS.
figure_jobs_memory() {
    say "jobs retry of 1,000 then 10,000 jobs"
    local n range seconds kib peaks=() out
    for n in 1000 10000; do
        range=$(make_error_jobs "$n")
        out=$(measure "$work/jobs.out" "${csi_cmd[@]}" \
            env jobs bench retry --id "$range" --yes)
        read -r seconds kib <<<"$out"
        grep -q "changed $n job(s)" "$work/jobs.out" || { cat "$work/jobs.out" >&2; die "jobs retry did not change $n jobs"; }
        peaks+=("$kib")
        detail "jobs retry of $n jobs: $seconds s, peak RSS $kib KiB"
    done
    local ratio
    ratio=$(awk -v a="${peaks[1]}" -v b="${peaks[0]}" 'BEGIN { printf "%.2f", a / b }')
    row "jobs retry memory, 10,000 vs 1,000 jobs" \
        "$(awk -v a="${peaks[1]}" -v b="${peaks[0]}" 'BEGIN { printf "%.1f vs %.1f MiB", a / 1024, b / 1024 }') (${ratio}x)" \
        "flat (<= 1.25x)" "$(verdict "$ratio" "<=" 1.25)"
}

# N fsc_rlie jobs in internal_error (through the transition trigger); prints FIRST-LAST.
make_error_jobs() { # $1: count
    psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" <<SQL | tail -n 1
CREATE TEMP TABLE new_jobs AS
WITH p AS (INSERT INTO cosims.parent_jobs (name, tile_id, next_log_level)
           SELECT 'fsc_rlie_job', '31TGM', 20 FROM generate_series(1, $1) RETURNING id)
SELECT id FROM p;
INSERT INTO cosims.fsc_rlie_jobs (fk_parent_job_id, l1c_id, l1c_cloud_cover, l1c_snow_cover, l1c_path, measurement_date)
  SELECT id, 'S2A_MSIL1C_bench_' || id, 10, 5, '/eodata/bench/' || id, timestamp '2026-11-02 10:00:00' FROM new_jobs;
INSERT INTO cosims.job_status_changes (fk_parent_job_id, job_status)
  SELECT id, 13 FROM new_jobs ORDER BY id;
SELECT min(id) || '-' || max(id) FROM new_jobs;
SQL
}

# The restore figures, on a dump grown to $gb GB: the bare pipe (verified), csi with
# 1, 2 and 4 connections (--jobs), --tables of two small tables; alternating, $rounds
# rounds, the best of each.
figure_restore() {
    local big=pgdump_2026-11-20T04:00:00 small=pgdump_2026-11-19T04:00:00 big_bytes small_bytes out
    out=$(make_dumps "$repo" "$gb" "$big" "$small")
    read -r big_bytes small_bytes <<<"$out"
    say "reading the dump's row counts (the baseline is checked against them)"
    dump_counts "$repo" "$big" >"$work/dump.counts"
    say "borg extract alone (also warms the caches)"
    local extract_s
    extract_s=$(run_extract "$repo" "$big")
    say "restoring $(mib "$big_bytes") MiB: bare pipe, csi --jobs 1, 2, 4, csi --tables; $rounds rounds"
    local i j seconds rss load pipes=() j1=() j2=() j4=() loads=() tables=() rss_big=0 rss_tables=0
    local machine=("before: $(cut -d' ' -f1 /proc/loadavg)")
    for ((i = 0; i < rounds; i++)); do
        pipes+=("$(run_pipe "$repo" "$big" "$work/dump.counts")")
        for j in 1 2 4; do
            out=$(run_csi_restore bench "$big" --jobs "$j")
            read -r seconds rss load <<<"$out"
            ((rss > rss_big)) && rss_big=$rss
            case $j in
                1) j1+=("$seconds") ;;
                2) j2+=("$seconds") ;;
                4) j4+=("$seconds") loads+=("$load") ;;
            esac
        done
        out=$(run_csi_restore bench "$big" --tables system_parameters,log_levels)
        read -r seconds rss _ <<<"$out"
        tables+=("$seconds")
        ((rss > rss_tables)) && rss_tables=$rss
        machine+=("after round $((i + 1)): $(cut -d' ' -f1 /proc/loadavg)")
    done
    say "restoring the small dump ($(mib "$small_bytes") MiB) with csi"
    local rss_small
    out=$(run_csi_restore bench "$small" --jobs 4)
    read -r _ rss_small _ <<<"$out"

    local pipe_best b1 b2 b4 load_best tables_best ratio speed flat
    pipe_best=$(best "${pipes[@]}") b1=$(best "${j1[@]}") b2=$(best "${j2[@]}") b4=$(best "${j4[@]}")
    load_best=$(best "${loads[@]}") tables_best=$(best "${tables[@]}")
    ratio=$(awk -v p="$pipe_best" -v c="$b4" 'BEGIN { printf "%.2f", p / c }')
    row "restore-db --jobs 4 vs bare pipe, $(mib "$big_bytes") MiB" "${ratio}x ($b4 s vs $pipe_best s)" ">= 1.30x" "$(verdict "$ratio" ">=" 1.3)"
    row "  --jobs 2 vs bare pipe" "$(awk -v p="$pipe_best" -v c="$b2" 'BEGIN { printf "%.2fx", p / c }') ($b2 s)" "-" "-"
    row "  --jobs 1 vs bare pipe" "$(awk -v p="$pipe_best" -v c="$b1" 'BEGIN { printf "%.2fx", p / c }') ($b1 s)" "-" "-"
    row "restore-db peak RSS of csi" "$(awk -v k="$rss_big" 'BEGIN { printf "%.1f MiB", k / 1024 }')" "< 64 MiB" "$(verdict "$rss_big" "<" 65536)"
    flat=$(awk -v a="$rss_big" -v b="$rss_small" 'BEGIN { printf "%.2f", a / b }')
    row "  peak RSS, $(mib "$big_bytes") vs $(mib "$small_bytes") MiB dump" "${flat}x" "flat (<= 1.25x)" "$(verdict "$flat" "<=" 1.25)"
    speed=$(awk -v t="$tables_best" -v c="$b4" 'BEGIN { printf "%.2f", c / t }')
    row "--tables system_parameters,log_levels vs full" "${speed}x faster ($tables_best s vs $b4 s)" ">= 4x" "$(verdict "$speed" ">=" 4)"
    detail "restore: dump $(mib "$big_bytes") MiB ($big_bytes bytes, $(awk '{ n += $2 } END { print n }' "$work/dump.counts") rows in $(wc -l <"$work/dump.counts") tables); borg extract alone $extract_s s ($(rate "$big_bytes" "$extract_s") MiB/s)"
    detail "  largest tables: $(sort -k2,2nr "$work/dump.counts" | head -n 3 | awk '{ printf "%s%s %s rows", (NR > 1 ? ", " : ""), $1, $2 }')"
    detail "  bare pipe (ON_ERROR_STOP, DROP SCHEMA included, row counts checked each round) ${pipes[*]} s (best $(rate "$big_bytes" "$pipe_best") MiB/s)"
    detail "  csi --jobs 1 ${j1[*]} s; --jobs 2 ${j2[*]} s; --jobs 4 ${j4[*]} s (load alone, csi's figure: ${loads[*]} s)"
    detail "  csi --tables system_parameters,log_levels ${tables[*]} s, peak RSS $((rss_tables / 1024)) MiB"
    detail "  csi peak RSS $((rss_big / 1024)) MiB on $(mib "$big_bytes") MiB, $((rss_small / 1024)) MiB on $(mib "$small_bytes") MiB"
    detail "  load average (1 min) $(IFS=';'; echo "${machine[*]}" | sed 's/;/, /g') (the bench itself counts: up to $(nproc) busy processes)"
    say "where the time goes: one more pipe and --jobs 4, profiled"
    local lines
    export -f bare_pipe
    export db
    lines=$(profile_run "bare pipe" bash -c 'bare_pipe "$@"' _ "$repo" "$big")
    while IFS= read -r line; do detail "  $line"; done <<<"$lines"
    lines=$(profile_run "csi env restore-db --jobs 4" "${csi_cmd[@]}" env restore-db bench --archive "$big" \
        --yes --keep-services --no-safety-backup --jobs 4)
    while IFS= read -r line; do detail "  $line"; done <<<"$lines"
}
