#!/usr/bin/env bash
# The figures of the README ("Figures"), measured in one run on this machine, each
# with its target and PASS/FAIL:
#
#   restore-db vs the bare `borg extract --stdout | psql` pipe on the same archive
#   (>= 1 GB), csi's peak RSS; --tables of two tables vs the full restore;
#   patch-image of six services vs one, against the Nomad double with 200 ms per request;
#   a broken image of six services caught and reverted, against Nomad 0.11.1 and 2.0.5;
#   env status with every source answering in 200 ms; csi --help startup;
#   jobs retry of 1,000 vs 10,000 jobs: csi's peak RSS.
#
#   scripts/bench.sh [--quick] [--keep]
#
#   --quick   a dump of a few tens of MB and one round of each: a smoke run, not figures
#   --keep    leave the temporary directory (its path is printed)
#
# Everything it needs is its own, in a temporary directory: a PostgreSQL cluster
# (scripts/lib/pg-cluster.sh) on a free port, a borg repository, a copy of the sandbox
# terraform tree (real tofu), the Nomad double on a free port, a copy of nomad/ and a
# csi.hcl. Never the developer's sandbox. The 200 ms of `env status` are injected with
# real components: the double's --latency-ms, a delay proxy in front of PostgreSQL
# (scripts/bench/delay-proxy.py: every answer arrives 200 ms late, so each round trip
# costs 200 ms), and tofu and borg behind wrappers that sleep 200 ms before exec'ing
# the real tool. Needs cargo, tofu or terraform, borg, psql, pg_dumpall, the PostgreSQL
# server binaries, python3; about 4x the dump size of free disk in $TMPDIR.
set -euo pipefail
# A failure inside $(...) stops the run too, instead of becoming a figure.
shopt -s inherit_errexit

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
quick=0 keep=0
for arg in "$@"; do
    case "$arg" in
        --quick) quick=1 ;;
        --keep) keep=1 ;;
        -h | --help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) printf 'bench: unknown argument %s (try --help)\n' "$arg" >&2; exit 2 ;;
    esac
done
if ((quick)); then gb=0.05 rounds=1; else gb=1.1 rounds=3; fi

work=$(mktemp -d "${TMPDIR:-/tmp}/csi-bench-XXXXXX")
chmod 755 "$work"
# shellcheck source=scripts/bench/lib.sh
source "$root/scripts/bench/lib.sh"

started_pids=()
cleanup() {
    local pid
    for pid in "${started_pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    pg_stop "$work/pg"
    if ((keep)); then
        say "kept $work"
    else
        rm -rf -- "$work"
    fi
}
trap cleanup EXIT

# Nothing from the caller's environment may point a client elsewhere.
unset PGHOST PGHOSTADDR PGPORT PGUSER PGDATABASE PGPASSWORD PGPASSFILE PGSERVICE PGOPTIONS PSQLRC
unset BORG_REPO BORG_PASSPHRASE BORG_PASSCOMMAND BORG_RSH NOMAD_ADDR NOMAD_TOKEN CSI_CONFIG
pg_port=$(free_port)
export PGHOST=127.0.0.1 PGPORT=$pg_port PGUSER=postgres
export BORG_BASE_DIR="$work/borg-home" BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes
export LANG=C.UTF-8 LC_ALL=C.UTF-8 TZ=UTC TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1

say "building (cargo build --release --workspace)"
(cd "$root" && cargo build --release --quiet --workspace)
target_dir="${CARGO_TARGET_DIR:-$root/target}/release"
csi="$target_dir/csi"
double="$target_dir/nomad-double"
# csi takes PG* over csi.hcl: without them here, each environment's own port counts.
csi_cmd=(env -u PGHOST -u PGPORT -u PGUSER "$csi" --config "$work/csi.hcl" --state-dir "$work/state")
if [[ -x "$root/tools/bin/tofu" ]]; then
    tofu="$root/tools/bin/tofu"
else
    tofu=$(command -v tofu || command -v terraform) || die "no tofu or terraform on PATH"
fi
borg=$(command -v borg) || die "borg not on PATH"

results=()
# One line of the table: figure, measured, target, verdict (PASS, FAIL or - for none).
row() { results+=("$(printf '%-50s %-30s %-16s %s' "$1" "$2" "$3" "$4")"); }
verdict() { awk -v v="$1" -v op="$2" -v t="$3" \
    'BEGIN { ok = (op == "<") ? v < t : (op == "<=") ? v <= t : v >= t; print ok ? "PASS" : "FAIL" }'; }

source "$root/scripts/bench/setup.sh"
source "$root/scripts/bench/figures.sh"

say "setting up in $work"
setup_all
figure_startup
figure_status
figure_patch_image
figure_broken_image
figure_jobs_memory
figure_restore

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
ram=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
report=$(cat <<EOF
csi figures, $(date -u '+%Y-%m-%d %H:%M UTC')$( ((quick)) && echo ' (--quick: a smoke run, not figures)')
machine: $(nproc) cores, ${cpu:-unknown CPU}, $ram RAM, $(uname -sr); load average at the end $(cut -d' ' -f1-3 /proc/loadavg)
tools: $("$tofu" version 2>/dev/null | head -n 1), $(borg --version), PostgreSQL $(psql -X -At -d postgres -c 'show server_version' | cut -d' ' -f1)

$(printf '%-50s %-30s %-16s %s' figure measured target result)
$(printf '%s\n' "${results[@]}")

$(printf '%s\n' "${details[@]}")
EOF
)
printf '\n%s\n' "$report"
# The README's table is always the last full run's, written here, never by hand.
if ((!quick)); then
    python3 - "$root/README.md" "$report" <<'PY'
import sys
path, report = sys.argv[1], sys.argv[2]
text = open(path).read()
begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
if begin not in text or end not in text:
    sys.exit("bench: README.md has no bench markers")
head, rest = text.split(begin, 1)
_, tail = rest.split(end, 1)
open(path, "w").write(head + begin + "\n```\n" + report + "\n```\n" + end + tail)
PY
    say "README.md: the table between the bench markers replaced"
fi
if printf '%s\n' "${results[@]}" | grep -q ' FAIL$'; then
    say "a target was missed (FAIL above)"
    exit 1
fi
