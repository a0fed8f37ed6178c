#!/usr/bin/env bash
# A local sandbox of the HR-S&I production system, for trying csi safely.
#
#   scripts/sandbox.sh up       start (or complete) the sandbox; idempotent
#   scripts/sandbox.sh down     stop PostgreSQL, the Nomad double and the web host (data kept)
#   scripts/sandbox.sh status   show what runs
#   scripts/sandbox.sh reset    down, then delete all sandbox state
#
# Rehearsal aids (the sandbox only; csi itself has no such switches):
#
#   scripts/sandbox.sh nomad-reset [MHZ]  a new, empty Nomad (the double restarted without
#                                         its jobs, as a start gives), on a node of MHZ
#                                         (default 8000); kept for later `up`s
#   scripts/sandbox.sh age-stop DAYS      make the journal's last successful stop look DAYS
#                                         days old (a long downtime, without waiting for it)
#   scripts/sandbox.sh produce            near-real-time production for the job types in
#                                         job_types_list: their open NRT jobs finish, one new
#                                         job each is published (what the wave gates wait for)
#
# Everything runs on this machine; all state lives under <repo>/.sandbox/
# (git-ignored), plus the terraform state of terraform/sandbox.
#
#   PostgreSQL  on its unix socket only, .sandbox/pg/.s.PGSQL.${CSI_SANDBOX_PG_PORT:-55432}
#               (no TCP listener, as production's database host), superuser postgres (trust),
#               schema cosims in database postgres as in production (roles web_anonymous,
#               authenticator), data in .sandbox/pg; the server is PostgreSQL 12 from
#               tools/pg12/bin (production's major) unless $PG_BINDIR names another
#   borg        unencrypted repo .sandbox/borg with nightly-like archives
#               pgdump_<YYYY-mm-ddTHH:MM:SS> at 04:00 UTC of the last 4 days,
#               BORG_BASE_DIR=.sandbox/borg-home
#   terraform   terraform/sandbox, module.cold applied, module.core absent
#               ("stopped" system); tofu from $CSI_TOFU, tools/bin/tofu, tofu or terraform
#   Nomad       the nomad-double ($CSI_NOMAD_DOUBLE or target/debug/nomad-double), if built,
#               on 127.0.0.1:${CSI_SANDBOX_NOMAD_PORT:-54646}; arguments
#               "--bind 127.0.0.1:PORT" unless $CSI_NOMAD_DOUBLE_ARGS is set;
#               $CSI_SANDBOX_DEPLOY_SECONDS: the double's deployment time (its default 2)
#   web host    the dashboard's: sshd (/usr/sbin/sshd, if installed) on
#               127.0.0.1:${CSI_SANDBOX_SSH_PORT:-54622} as the current user, keys in .sandbox/ssh,
#               web root ${CSI_SANDBOX_WWW:-/tmp/csi-sandbox-www} (temp/, html/)
#   database    the same sshd is the database host, as tf-tutu is prod's: csi reaches the
#   host        PostgreSQL socket and the borg repository only through it, by the paths
#               ${CSI_SANDBOX_DBHOST:-/tmp/csi-sandbox-dbhost}/pg and .../borg (links to
#               .sandbox/pg and .sandbox/borg; csi.hcl names remote paths absolutely)
#
# `up` also writes .sandbox/env, to be sourced, with PG*, BORG_* and NOMAD_ADDR.

set -euo pipefail

SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
ROOT="$(cd -- "$SCRIPT_DIR/.." && pwd -P)"
SANDBOX="$ROOT/.sandbox"

PG_CLUSTER="$ROOT/scripts/lib/pg-cluster.sh"
SQL_DIR="$ROOT/scripts/sandbox"
PG_DIR="$SANDBOX/pg"
# The socket folder: the sandbox's PostgreSQL has no TCP listener (PG_LISTEN='').
PG_HOST="$PG_DIR"
export PG_LISTEN=""
PG_PORT="${CSI_SANDBOX_PG_PORT:-55432}"
PG_SUPERUSER="postgres"
# Production's schema lives in the database `postgres` (no CREATE DATABASE there).
DB_NAME="postgres"

BORG_REPO_DIR="$SANDBOX/borg"
BORG_HOME_DIR="$SANDBOX/borg-home"
BACKUP_DAYS=4

TF_DIR="$ROOT/terraform/sandbox"
TF_LOG="$SANDBOX/tofu.log"
# The sandbox environment's own state and terraform data, outside the tracked tree,
# where csi keeps them too (csi.hcl: state_dir, terraform.state_file).
TF_STATE="$SANDBOX/state/sandbox/terraform.tfstate"
export TF_DATA_DIR="$SANDBOX/state/sandbox/terraform"

NOMAD_HOST="127.0.0.1"
NOMAD_PORT="${CSI_SANDBOX_NOMAD_PORT:-54646}"
NOMAD_BIN="${CSI_NOMAD_DOUBLE:-$ROOT/target/debug/nomad-double}"
NOMAD_PID_FILE="$SANDBOX/nomad-double.pid"
NOMAD_LOG="$SANDBOX/nomad-double.log"

SSH_HOST="127.0.0.1"
SSH_PORT="${CSI_SANDBOX_SSH_PORT:-54622}"
SSH_DIR="$SANDBOX/ssh"
SSHD_BIN="/usr/sbin/sshd"
SSHD_PID_FILE="$SSH_DIR/sshd.pid"
WWW_DIR="${CSI_SANDBOX_WWW:-/tmp/csi-sandbox-www}"
DBHOST_DIR="${CSI_SANDBOX_DBHOST:-/tmp/csi-sandbox-dbhost}"
NOMAD_STATE="$SANDBOX/nomad-state.json"
# The node's CPU (MHz), as the last nomad-reset chose it. The double places a new
# allocation before stopping the old one, so rolling all six services at once needs
# about twice what they use (3500 MHz).
NOMAD_CPU_FILE="$SANDBOX/nomad-cpu-capacity"
NOMAD_DEFAULT_CPU=8000

# Nothing from the caller's environment may redirect our clients elsewhere.
unset PGHOST PGHOSTADDR PGPORT PGUSER PGDATABASE PGPASSWORD PGPASSFILE PGSERVICE PGOPTIONS PSQLRC
unset BORG_REPO BORG_PASSPHRASE BORG_PASSCOMMAND BORG_PASSPHRASE_FD BORG_KEY_FILE BORG_RSH

say() {
    printf 'sandbox: %s\n' "$*"
}

die() {
    printf 'sandbox: error: %s\n' "$*" >&2
    exit 1
}

usage() {
    printf 'usage: %s up|down|status|reset|nomad-reset [MHZ]|age-stop DAYS|produce\n' "$(basename -- "$0")" >&2
    exit 2
}

# ---------------------------------------------------------------- PostgreSQL

sb_psql() {
    PGCONNECT_TIMEOUT=10 psql -X -q -v ON_ERROR_STOP=1 -h "$PG_HOST" -p "$PG_PORT" -U "$PG_SUPERUSER" "$@"
}

pg_running() {
    bash "$PG_CLUSTER" status "$PG_DIR" >/dev/null 2>&1
}

# The server: $PG_BINDIR if set, else production's major from tools/pg12.
if [[ -z "${PG_BINDIR:-}" && -x "$ROOT/tools/pg12/bin/postgres" ]]; then
    export PG_BINDIR="$ROOT/tools/pg12/bin"
fi

pg_up() {
    mkdir -p "$SANDBOX"
    bash "$PG_CLUSTER" start "$PG_DIR" "$PG_PORT" >/dev/null
    local port
    port="$(sed -n 4p "$PG_DIR/data/postmaster.pid")"
    if [[ "$port" != "$PG_PORT" ]]; then
        die "postgres already runs on port $port, not $PG_PORT; run '$0 down' first"
    fi
    say "postgres up on its unix socket only, ${PG_DIR#"$ROOT"/}/.s.PGSQL.$PG_PORT (data in ${PG_DIR#"$ROOT"/})"

    local exists
    exists="$(sb_psql -d "$DB_NAME" -At -c "SELECT 1 FROM pg_namespace WHERE nspname = 'cosims'")"
    if [[ "$exists" == 1 ]]; then
        say "schema cosims already in database $DB_NAME, kept as is"
        return
    fi
    say "loading the cosims schema into database $DB_NAME (roles, schema, seed)"
    if ! sb_psql -d "$DB_NAME" -f "$SQL_DIR/cosims-roles.sql" >/dev/null \
        || ! sb_psql -d "$DB_NAME" -f "$SQL_DIR/cosims-schema.sql" >/dev/null \
        || ! sb_psql -d "$DB_NAME" -f "$SQL_DIR/cosims-seed.sql" >/dev/null; then
        # What the runbook does to start over.
        sb_psql -d "$DB_NAME" -c "DROP SCHEMA IF EXISTS cosims CASCADE" >/dev/null || true
        die "loading the cosims fixture failed; schema cosims dropped"
    fi
    local jobs
    jobs="$(sb_psql -d "$DB_NAME" -At -c "SELECT count(*) FROM cosims.parent_jobs")"
    say "schema cosims ready in database $DB_NAME: $jobs jobs over the last 5 days"
}

pg_down() {
    if pg_running; then
        bash "$PG_CLUSTER" stop "$PG_DIR" >/dev/null
        say "postgres stopped (data kept in ${PG_DIR#"$ROOT"/})"
    else
        say "postgres not running"
    fi
}

# ---------------------------------------------------------------------- borg

sb_borg() {
    BORG_BASE_DIR="$BORG_HOME_DIR" \
        BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes \
        BORG_RELOCATED_REPO_ACCESS_IS_OK=yes \
        LANG=C.UTF-8 LC_ALL=C.UTF-8 TZ=UTC \
        borg "$@"
}

borg_up() {
    command -v borg >/dev/null 2>&1 || die "borg not found on PATH"
    mkdir -p "$BORG_HOME_DIR"
    if [[ ! -f "$BORG_REPO_DIR/config" ]]; then
        sb_borg init --encryption=none "$BORG_REPO_DIR"
        say "borg repo created in ${BORG_REPO_DIR#"$ROOT"/} (unencrypted)"
    fi

    # The last BACKUP_DAYS nightly backups at 04:00 UTC that are in the past.
    local now today4 first off epoch ts name existing created=0
    now="$(date -u +%s)"
    today4="$(date -u -d "$(date -u +%Y-%m-%d) 04:00:00 UTC" +%s)"
    if ((now >= today4)); then first=0; else first=1; fi
    existing="$(sb_borg list --short "$BORG_REPO_DIR")"
    for ((off = first + BACKUP_DAYS - 1; off >= first; off--)); do
        epoch=$((today4 - off * 86400))
        ts="$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%S)"
        name="pgdump_$ts"
        if grep -qxF -- "$name" <<<"$existing"; then
            continue
        fi
        # Same content as the nightly `pg_dumpall | borg create ... -`, but borg
        # refuses to store the archive if pg_dumpall fails.
        sb_borg create --compression zstd --timestamp "$ts" --stdin-name database-all.sql \
            --content-from-command "$BORG_REPO_DIR::$name" -- \
            pg_dumpall -h "$PG_HOST" -p "$PG_PORT" -U "$PG_SUPERUSER"
        say "borg archive $name created (backdated)"
        created=$((created + 1))
    done
    local total
    total="$(sb_borg list --short "$BORG_REPO_DIR" | grep -c . || true)"
    say "borg repo ${BORG_REPO_DIR#"$ROOT"/}: $total archives ($created new)"
}

# ----------------------------------------------------------------- terraform

find_tofu() {
    if [[ -n "${CSI_TOFU:-}" ]]; then
        command -v -- "$CSI_TOFU" 2>/dev/null || die "CSI_TOFU=$CSI_TOFU is not executable"
    elif [[ -x "$ROOT/tools/bin/tofu" ]]; then
        printf '%s\n' "$ROOT/tools/bin/tofu"
    elif command -v tofu >/dev/null 2>&1; then
        command -v tofu
    elif command -v terraform >/dev/null 2>&1; then
        command -v terraform
    else
        return 1
    fi
}

tf_counts() {
    # prints "<cold resources> <core resources>" from the state
    local tofu="$1" list
    list="$("$tofu" -chdir="$TF_DIR" state list 2>/dev/null || true)"
    printf '%s %s\n' \
        "$(grep -c '^module\.cold\.' <<<"$list" || true)" \
        "$(grep -c '^module\.core\.' <<<"$list" || true)"
}

tf_up() {
    if [[ ! -d "$TF_DIR" ]]; then
        say "terraform: ${TF_DIR#"$ROOT"/} does not exist yet, skipped"
        return
    fi
    local secrets="$TF_DIR/sandbox_env_secrets.tfvars"
    if [[ ! -f "$secrets" ]]; then
        install -m 0600 "$TF_DIR/sandbox_env_secrets.tfvars.example" "$secrets"
        say "terraform: ${secrets#"$ROOT"/} copied from the example (mode 0600)"
    fi
    local tofu
    tofu="$(find_tofu)" || die "no tofu/terraform found (set CSI_TOFU, or install tools/bin/tofu)"
    mkdir -p "$SANDBOX"
    : >"$TF_LOG"
    export TF_IN_AUTOMATION=1
    mkdir -p "$TF_DATA_DIR"
    if ! "$tofu" -chdir="$TF_DIR" init -input=false -no-color \
        -backend-config=path="$TF_STATE" >>"$TF_LOG" 2>&1; then
        tail -n 20 "$TF_LOG" >&2
        die "$(basename -- "$tofu") init failed (log: ${TF_LOG#"$ROOT"/})"
    fi
    if ! "$tofu" -chdir="$TF_DIR" apply -input=false -auto-approve -no-color \
        -target=module.cold \
        -var-file=sandbox_env_configuration.tfvars \
        -var-file=sandbox_env_secrets.tfvars \
        -var=csi_packages_tag=sandbox \
        -var=csi_environment=sandbox >>"$TF_LOG" 2>&1; then
        tail -n 20 "$TF_LOG" >&2
        die "$(basename -- "$tofu") apply -target=module.cold failed (log: ${TF_LOG#"$ROOT"/})"
    fi
    local counts cold core
    counts="$(tf_counts "$tofu")"
    read -r cold core <<<"$counts"
    if ((core == 0)); then
        say "terraform: module.cold applied ($cold resources), module.core absent: system stopped"
    else
        say "terraform: module.cold applied ($cold resources), module.core has $core resources: system started"
    fi
}

tf_status() {
    if [[ ! -d "$TF_DIR" ]]; then
        say "terraform: ${TF_DIR#"$ROOT"/} does not exist"
        return
    fi
    if [[ ! -f "$TF_STATE" ]]; then
        say "terraform: no state yet"
        return
    fi
    local tofu counts cold core
    tofu="$(find_tofu)" || { say "terraform: no tofu/terraform found"; return; }
    counts="$(tf_counts "$tofu")"
    read -r cold core <<<"$counts"
    if ((core == 0)); then
        say "terraform: module.cold $cold resources, module.core absent (system stopped)"
    else
        say "terraform: module.cold $cold resources, module.core $core resources (system started)"
    fi
}

tf_reset() {
    [[ -d "$TF_DIR" ]] || return 0
    rm -rf -- "$TF_DIR/.terraform" "$TF_DATA_DIR"
    rm -f -- "$TF_STATE" "$TF_STATE".* "$(dirname -- "$TF_STATE")/.terraform.tfstate.lock.info" \
        "$TF_DIR/.terraform.lock.hcl" "$TF_DIR/sandbox_env_secrets.tfvars"
    say "terraform: sandbox state, .terraform and secrets file removed"
}

# ------------------------------------------------------------- Nomad double

nomad_pid() {
    # prints the pid of the running double, or fails
    [[ -f "$NOMAD_PID_FILE" ]] || return 1
    local pid
    pid="$(head -n 1 "$NOMAD_PID_FILE")"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    # guard against pid reuse: the process must be the double
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$(basename -- "$NOMAD_BIN")" || return 1
    printf '%s\n' "$pid"
}

port_open() {
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

nomad_up() {
    local pid
    if pid="$(nomad_pid)"; then
        say "nomad double already running on $NOMAD_HOST:$NOMAD_PORT (pid $pid)"
        return
    fi
    rm -f -- "$NOMAD_PID_FILE"
    if [[ ! -x "$NOMAD_BIN" ]]; then
        say "nomad double: ${NOMAD_BIN#"$ROOT"/} not built, skipped (cargo build -p nomad-double)"
        return
    fi
    if port_open "$NOMAD_HOST" "$NOMAD_PORT"; then
        die "port $NOMAD_HOST:$NOMAD_PORT is already in use (set CSI_SANDBOX_NOMAD_PORT)"
    fi
    local -a args
    if [[ -n "${CSI_NOMAD_DOUBLE_ARGS:-}" ]]; then
        read -r -a args <<<"$CSI_NOMAD_DOUBLE_ARGS"
    else
        local cpu="$NOMAD_DEFAULT_CPU"
        if [[ -f "$NOMAD_CPU_FILE" ]]; then
            cpu="$(head -n 1 "$NOMAD_CPU_FILE")"
        fi
        args=(--bind "$NOMAD_HOST:$NOMAD_PORT" --state-file "$NOMAD_STATE" --cpu-capacity "$cpu" --fail-image-pattern baadf00d)
        if [[ -n "${CSI_SANDBOX_DEPLOY_SECONDS:-}" ]]; then
            args+=(--deploy-seconds "$CSI_SANDBOX_DEPLOY_SECONDS")
        fi
    fi
    mkdir -p "$SANDBOX"
    printf '\n--- %s starting: %s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$NOMAD_BIN" "${args[*]}" >>"$NOMAD_LOG"
    nohup "$NOMAD_BIN" "${args[@]}" >>"$NOMAD_LOG" 2>&1 </dev/null &
    pid=$!
    disown "$pid" 2>/dev/null || true
    printf '%s\n' "$pid" >"$NOMAD_PID_FILE"
    local i
    for ((i = 0; i < 50; i++)); do
        if port_open "$NOMAD_HOST" "$NOMAD_PORT"; then
            say "nomad double up on $NOMAD_HOST:$NOMAD_PORT (pid $pid, log ${NOMAD_LOG#"$ROOT"/})"
            return
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            break
        fi
        sleep 0.2
    done
    tail -n 20 "$NOMAD_LOG" >&2 || true
    if kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
    fi
    rm -f -- "$NOMAD_PID_FILE"
    die "the nomad double did not come up on $NOMAD_HOST:$NOMAD_PORT (log: ${NOMAD_LOG#"$ROOT"/})"
}

nomad_down() {
    local pid i
    if ! pid="$(nomad_pid)"; then
        rm -f -- "$NOMAD_PID_FILE"
        say "nomad double not running"
        return
    fi
    kill "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f -- "$NOMAD_PID_FILE"
    say "nomad double stopped (pid $pid)"
}

# ---------------------------------------------------------------- web host

# The dashboard's web host: a real sshd on loopback, run as the current user with its
# own host key, accepting one throwaway client key (.sandbox/ssh); the web root is
# outside the work tree because csi.hcl names remote folders by absolute path.
webhost_pid() {
    local pid
    [[ -f "$SSHD_PID_FILE" ]] || return 1
    pid="$(head -n 1 "$SSHD_PID_FILE" 2>/dev/null)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$SSH_DIR/sshd_config" || return 1
    printf '%s\n' "$pid"
}

webhost_keys() {
    mkdir -p "$SSH_DIR"
    chmod 700 "$SSH_DIR"
    local key
    for key in host_key client_key; do
        [[ -f "$SSH_DIR/$key" ]] || ssh-keygen -q -t ed25519 -N '' -C "csi-sandbox-$key" -f "$SSH_DIR/$key"
    done
    cp "$SSH_DIR/client_key.pub" "$SSH_DIR/authorized_keys"
    printf '[%s]:%s %s\n' "$SSH_HOST" "$SSH_PORT" "$(cut -d' ' -f1,2 "$SSH_DIR/host_key.pub")" >"$SSH_DIR/known_hosts"
    cat >"$SSH_DIR/sshd_config" <<EOF
Port $SSH_PORT
ListenAddress $SSH_HOST
HostKey $SSH_DIR/host_key
PidFile $SSHD_PID_FILE
AuthorizedKeysFile $SSH_DIR/authorized_keys
UsePAM no
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
EOF
}

webhost_up() {
    local pid i
    if pid="$(webhost_pid)"; then
        say "web host (sshd) already running on $SSH_HOST:$SSH_PORT (pid $pid)"
        return
    fi
    if [[ ! -x "$SSHD_BIN" ]] || ! command -v ssh-keygen >/dev/null 2>&1; then
        say "web host: $SSHD_BIN not installed, skipped (scripts/bootstrap.sh installs openssh-server)"
        return
    fi
    if port_open "$SSH_HOST" "$SSH_PORT"; then
        die "port $SSH_HOST:$SSH_PORT is already in use (set CSI_SANDBOX_SSH_PORT)"
    fi
    # sshd started by root insists on its privilege separation folder.
    if [[ $(id -u) -eq 0 ]]; then mkdir -p /run/sshd; fi
    webhost_keys
    mkdir -p "$WWW_DIR/temp"
    if [[ ! -d "$WWW_DIR/html" ]]; then
        mkdir -p "$WWW_DIR/html"
        printf '<!doctype html><title>HR-S&amp;I dashboard</title><p>the version before csi</p>\n' >"$WWW_DIR/html/index.html"
    fi
    "$SSHD_BIN" -f "$SSH_DIR/sshd_config" -E "$SSH_DIR/sshd.log"
    for ((i = 0; i < 50; i++)); do
        if pid="$(webhost_pid)" && port_open "$SSH_HOST" "$SSH_PORT"; then
            say "web host (sshd) up on $SSH_HOST:$SSH_PORT (pid $pid), web root $WWW_DIR"
            return
        fi
        sleep 0.1
    done
    tail -n 20 "$SSH_DIR/sshd.log" >&2 || true
    die "the web host's sshd did not come up on $SSH_HOST:$SSH_PORT (log: ${SSH_DIR#"$ROOT"/}/sshd.log)"
}

webhost_down() {
    local pid i
    if ! pid="$(webhost_pid)"; then
        say "web host (sshd) not running"
        return
    fi
    kill "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    rm -f -- "$SSHD_PID_FILE"
    say "web host (sshd) stopped (pid $pid)"
}

# ------------------------------------------------------------ database host

# The paths csi.hcl's sandbox block names on the database host (this machine, reached
# through the sshd above): the PostgreSQL socket's folder and the borg repository.
dbhost_up() {
    mkdir -p "$DBHOST_DIR"
    ln -sfn "$PG_DIR" "$DBHOST_DIR/pg"
    ln -sfn "$BORG_REPO_DIR" "$DBHOST_DIR/borg"
    if webhost_pid >/dev/null; then
        say "database host: ssh $SSH_HOST:$SSH_PORT, socket $DBHOST_DIR/pg, repository $DBHOST_DIR/borg"
    else
        say "database host: no sshd, so csi cannot reach the sandbox's database and backups (scripts/bootstrap.sh installs openssh-server)"
    fi
}

# ---------------------------------------------------------------- env file

write_env_file() {
    cat >"$SANDBOX/env" <<EOF
# Source this file to point clients at the sandbox (written by scripts/sandbox.sh up).
export PGHOST=$PG_HOST
export PGPORT=$PG_PORT
export PGUSER=$PG_SUPERUSER
export PGDATABASE=$DB_NAME
export BORG_REPO='$BORG_REPO_DIR'
export BORG_BASE_DIR='$BORG_HOME_DIR'
export BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes
export BORG_RELOCATED_REPO_ACCESS_IS_OK=yes
export NOMAD_ADDR=http://$NOMAD_HOST:$NOMAD_PORT
EOF
}

# ---------------------------------------------------------------- commands

# The secrets the services' templates splice in: private files, never committed.
template_secrets_up() {
    if [[ ! -f "$SANDBOX/secrets.env" ]]; then
        install -m 0600 "$ROOT/nomad/env/secrets.env.example" "$SANDBOX/secrets.env"
        say "nomad templates: .sandbox/secrets.env copied from the example (mode 0600)"
    fi
    if [[ ! -d "$SANDBOX/nomad" ]]; then
        mkdir -p "$SANDBOX/nomad"
        cp "$ROOT"/nomad/*.nomad "$SANDBOX/nomad/"
        say "nomad: job files copied to .sandbox/nomad (the sandbox's own to rewrite)"
    fi
    if [[ ! -f "$SANDBOX/registry-token" ]]; then
        (umask 077 && printf 'sandbox-not-a-secret-registry-token\n' >"$SANDBOX/registry-token")
    fi
}

cmd_up() {
    command -v psql >/dev/null 2>&1 || die "psql not found on PATH"
    command -v pg_dumpall >/dev/null 2>&1 || die "pg_dumpall not found on PATH"
    mkdir -p "$SANDBOX"
    template_secrets_up
    pg_up
    borg_up
    tf_up
    nomad_up
    webhost_up
    dbhost_up
    write_env_file
    say "ready; connect with: psql -h $PG_HOST -p $PG_PORT -U $PG_SUPERUSER $DB_NAME"
    say "environment for clients: source ${SANDBOX#"$ROOT"/}/env"
}

cmd_down() {
    webhost_down
    nomad_down
    pg_down
}

cmd_status() {
    if [[ ! -d "$SANDBOX" ]]; then
        say "not created (run: $0 up)"
    fi
    if pg_running; then
        local port jobs
        port="$(sed -n 4p "$PG_DIR/data/postmaster.pid")"
        jobs="$(PG_PORT="$port" sb_psql -d "$DB_NAME" -At \
            -c "SELECT count(*) FROM cosims.parent_jobs" 2>/dev/null || echo '?')"
        say "postgres up on ${PG_DIR#"$ROOT"/}/.s.PGSQL.$port (unix socket only), database $DB_NAME ($jobs jobs)"
    elif [[ -d "$PG_DIR/data" ]]; then
        say "postgres stopped (data in ${PG_DIR#"$ROOT"/})"
    else
        say "postgres: no cluster"
    fi
    if [[ -f "$BORG_REPO_DIR/config" ]] && command -v borg >/dev/null 2>&1; then
        local names
        names="$(sb_borg list --short "$BORG_REPO_DIR" 2>/dev/null || true)"
        say "borg repo ${BORG_REPO_DIR#"$ROOT"/}: $(grep -c . <<<"$names" || true) archives, latest $(tail -n 1 <<<"$names")"
    else
        say "borg: no repository"
    fi
    tf_status
    local pid
    if pid="$(nomad_pid)"; then
        say "nomad double up on $NOMAD_HOST:$NOMAD_PORT (pid $pid)"
    else
        say "nomad double not running"
    fi
    if pid="$(webhost_pid)"; then
        say "web host (sshd) up on $SSH_HOST:$SSH_PORT (pid $pid), web root $WWW_DIR"
    else
        say "web host (sshd) not running"
    fi
}

cmd_reset() {
    cmd_down
    case "$SANDBOX" in
        */.sandbox) ;;
        *) die "refusing to delete unexpected path $SANDBOX" ;;
    esac
    rm -rf -- "$SANDBOX"
    say "deleted ${SANDBOX#"$ROOT"/}"
    rm -f -- "$DBHOST_DIR/pg" "$DBHOST_DIR/borg"
    rmdir -- "$DBHOST_DIR" 2>/dev/null || true
    case "$WWW_DIR" in
        /tmp/*) rm -rf -- "$WWW_DIR" && say "deleted the web root $WWW_DIR" ;;
        *) say "kept the web root $WWW_DIR (outside /tmp: delete it yourself)" ;;
    esac
    tf_reset
}

# ------------------------------------------------------- rehearsal aids

# A start gives a new Nomad server, with none of the services: the double restarted
# without its state, on a node of the given CPU.
cmd_nomad_reset() {
    local cpu="${1:-$NOMAD_DEFAULT_CPU}"
    [[ "$cpu" =~ ^[1-9][0-9]*$ ]] || die "nomad-reset: the node's CPU is a number of MHz, got '$cpu'"
    [[ -x "$NOMAD_BIN" ]] || die "nomad-reset: ${NOMAD_BIN#"$ROOT"/} not built (cargo build -p nomad-double)"
    nomad_down
    mkdir -p "$SANDBOX"
    rm -f -- "$NOMAD_STATE"
    printf '%s\n' "$cpu" >"$NOMAD_CPU_FILE"
    nomad_up
    say "nomad: a new, empty server on a node of $cpu MHz (csi env doctor sandbox --fix submits the services)"
}

# The sandbox environment's csi state directory, as csi.hcl sets it.
csi_state_dir() {
    printf '%s/sandbox\n' "${CSI_STATE_DIR:-$SANDBOX/state}"
}

# Seconds since the epoch of a journal line's "time".
entry_epoch() {
    local time="${1#\{\"time\":\"}"
    date -u -d "${time%%\"*}" +%s
}

# The journal line with its "time" moved back by $2 seconds (fraction kept).
entry_moved_back() {
    local line="$1" back="$2" time fraction moved
    time="${line#\{\"time\":\"}"
    time="${time%%\"*}"
    fraction=""
    if [[ "$time" == *.* ]]; then
        fraction=".${time#*.}"
        fraction="${fraction%Z}"
    fi
    moved="$(date -u -d "@$(($(entry_epoch "$line") - back))" +%Y-%m-%dT%H:%M:%S)"
    printf '{"time":"%s%sZ"%s\n' "$moved" "$fraction" "${line#\{\"time\":\"$time\"}"
}

# Makes the journal's last successful stop look DAYS days old: every entry of that
# operation is moved back by the same amount. csi reads the downtime from there first.
cmd_age_stop() {
    local days="${1:-}"
    [[ "$days" =~ ^[1-9][0-9]*$ ]] || die "age-stop: give the downtime in whole days, e.g. '$0 age-stop 3'"
    local state journal
    state="$(csi_state_dir)"
    journal="$state/journal.jsonl"
    [[ -f "$journal" ]] || die "age-stop: no journal at $journal; stop the sandbox with 'csi env stop sandbox' first"
    exec 9<>"$state/lock"
    flock -n 9 || die "age-stop: a csi operation holds the sandbox's lock ($state/lock); try again when it is done"
    local last
    last="$(grep -E '"operation":"(stop|start)","event":"finished","outcome":"ok"' "$journal" | tail -n 1 || true)"
    [[ -n "$last" ]] || die "age-stop: the journal has no successful stop; run 'csi env stop sandbox' first"
    [[ "$last" == *'"operation":"stop"'* ]] \
        || die "age-stop: the sandbox was started after its last stop; run 'csi env stop sandbox' first"
    local id back
    id="$(sed -E 's/.*"operation_id":"([^"]+)".*/\1/' <<<"$last")"
    back=$(($(entry_epoch "$last") - ($(date -u +%s) - days * 86400)))
    if ((back <= 0)); then
        say "age-stop: the last stop ($id) is already at least $days days old"
        return
    fi
    local tmp line
    tmp="$(mktemp "$journal.XXXXXX")"
    while IFS= read -r line || [[ -n "$line" ]]; do
        if [[ "$line" == *"\"operation_id\":\"$id\""* ]]; then
            line="$(entry_moved_back "$line" "$back")"
        fi
        printf '%s\n' "$line"
    done <"$journal" >"$tmp"
    chmod --reference="$journal" "$tmp"
    mv -f -- "$tmp" "$journal"
    say "age-stop: the last stop ($id) now ended $(date -u -d "@$(entry_epoch "$(grep -F "\"operation_id\":\"$id\"" "$journal" | tail -n 1)")" '+%Y-%m-%d %H:%M UTC') ($days days ago)"
}

# Near-real-time production for the job types in job_types_list.
cmd_produce() {
    pg_running || die "produce: postgres is not running (run: $0 up)"
    local output line
    output="$(sb_psql -d "$DB_NAME" -At -f "$SQL_DIR/demo-production.sql")" \
        || die "produce: $SQL_DIR/demo-production.sql failed"
    while IFS= read -r line; do
        if [[ -n "$line" ]]; then
            say "produced: $line"
        fi
    done <<<"$output"
}

main() {
    [[ $# -ge 1 ]] || usage
    local command="$1"
    shift
    case "$command" in
        up | down | status | reset) [[ $# -eq 0 ]] || usage ;;
        nomad-reset) [[ $# -le 1 ]] || usage ;;
        age-stop) [[ $# -eq 1 ]] || usage ;;
        produce) [[ $# -eq 0 ]] || usage ;;
        *) usage ;;
    esac
    case "$command" in
        up) cmd_up ;;
        down) cmd_down ;;
        status) cmd_status ;;
        reset) cmd_reset ;;
        nomad-reset) cmd_nomad_reset "$@" ;;
        age-stop) cmd_age_stop "$@" ;;
        produce) cmd_produce ;;
    esac
}

main "$@"
