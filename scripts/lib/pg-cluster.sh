#!/usr/bin/env bash
# Throwaway PostgreSQL clusters for the csi sandbox and tests.
#
#   pg-cluster.sh start  DIR PORT   initdb if needed, then start (idempotent)
#   pg-cluster.sh stop   DIR        fast shutdown; no error if not running
#   pg-cluster.sh status DIR        prints the state; exit 0 running, 3 stopped,
#                                   4 no cluster in DIR
#
# Layout: DIR/data (PGDATA), DIR/log (server log), unix socket in DIR
# (DIR/.s.PGSQL.PORT). The server listens on 127.0.0.1:PORT only ($PG_LISTEN set
# to the empty string: on the unix socket only, as production's database host),
# trusts every local and 127.0.0.1 connection, and runs with fsync=off: never put
# data you care about in it. The superuser is `postgres`.
#
# When run as root, the cluster is owned by and runs as the `postgres` OS user
# (DIR is chowned to it and must be reachable by it); otherwise it runs as the
# current user. Binaries: $PG_BINDIR, else `pg_config --bindir`, else the
# newest /usr/lib/postgresql/*/bin.

set -euo pipefail

# PostgreSQL speaks English to whoever reads its messages (logs, errors).
export LC_ALL=C LANG=C LC_MESSAGES=C

PROG="pg-cluster"

die() {
    printf '%s: error: %s\n' "$PROG" "$*" >&2
    exit 1
}

say() {
    printf '%s: %s\n' "$PROG" "$*"
}

usage() {
    cat >&2 <<'EOF'
usage: pg-cluster.sh start DIR PORT
       pg-cluster.sh stop DIR
       pg-cluster.sh status DIR
EOF
    exit 2
}

find_bindir() {
    local dir
    if [[ -n "${PG_BINDIR:-}" ]]; then
        [[ -x "$PG_BINDIR/initdb" ]] || die "PG_BINDIR=$PG_BINDIR has no initdb"
        printf '%s\n' "$PG_BINDIR"
        return
    fi
    if command -v pg_config >/dev/null 2>&1; then
        dir="$(pg_config --bindir 2>/dev/null || true)"
        if [[ -n "$dir" && -x "$dir/initdb" && -x "$dir/pg_ctl" ]]; then
            printf '%s\n' "$dir"
            return
        fi
    fi
    dir="$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null \
        | sort -t/ -k5,5n | tail -n 1 || true)"
    if [[ -n "$dir" && -x "$dir/initdb" ]]; then
        printf '%s\n' "$dir"
        return
    fi
    if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        dirname "$(command -v initdb)"
        return
    fi
    die "PostgreSQL server binaries (initdb, pg_ctl) not found; set PG_BINDIR"
}

# Runs a command as the cluster owner, from a directory it can read.
as_owner() {
    if [[ "$(id -u)" -eq 0 ]]; then
        if command -v runuser >/dev/null 2>&1; then
            (cd / && runuser -u postgres -- "$@")
        else
            local cmd
            cmd="$(printf '%q ' "$@")"
            (cd / && su postgres -s /bin/sh -c "$cmd")
        fi
    else
        "$@"
    fi
}

abs_dir() {
    local d="$1"
    [[ -n "$d" ]] || usage
    mkdir -p -- "$d"
    (cd -- "$d" && pwd -P)
}

is_running() {
    # pg_ctl status: 0 running, 3 not running, 4 no data directory
    [[ -f "$DATA/PG_VERSION" ]] || return 1
    as_owner "$BINDIR/pg_ctl" status -D "$DATA" >/dev/null 2>&1
}

running_port() {
    # line 4 of postmaster.pid is the port
    sed -n 4p "$DATA/postmaster.pid" 2>/dev/null || true
}

cmd_start() {
    local port="$1"
    if ! [[ "$port" =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
        die "invalid port: $port"
    fi
    local socket="$DIR/.s.PGSQL.$port"
    ((${#socket} < 104)) || die "socket path too long for a unix socket: $socket (use a shorter DIR)"

    if [[ "$(id -u)" -eq 0 ]]; then
        id postgres >/dev/null 2>&1 || die "running as root but there is no 'postgres' OS user"
        chown postgres: "$DIR"
        chmod 0700 "$DIR"
        if ! as_owner test -w "$DIR"; then
            die "the postgres OS user cannot reach $DIR (check the permissions of its parent directories)"
        fi
    fi

    if is_running; then
        say "already running on 127.0.0.1:$(running_port) (dir $DIR)"
        return 0
    fi

    if [[ ! -f "$DATA/PG_VERSION" ]]; then
        if [[ -e "$DATA" ]]; then
            rm -rf -- "$DATA"
        fi
        say "initdb in $DATA"
        as_owner "$BINDIR/initdb" -D "$DATA" -U postgres --auth=trust \
            --encoding=UTF8 --locale=C >"$DIR/initdb.log" 2>&1 \
            || { cat "$DIR/initdb.log" >&2; die "initdb failed"; }
        as_owner tee "$DATA/pg_hba.conf" >/dev/null <<'EOF'
# csi throwaway cluster: trust local and 127.0.0.1 connections only
# TYPE  DATABASE  USER  ADDRESS        METHOD
local   all       all                  trust
host    all       all   127.0.0.1/32   trust
local   replication all                trust
host    replication all 127.0.0.1/32   trust
EOF
        printf '\n%s\n%s\n' "# csi throwaway cluster settings (rewritten at each start)" \
            "include_if_exists = 'csi-cluster.conf'" \
            | as_owner tee -a "$DATA/postgresql.conf" >/dev/null
    fi

    # Settings are rewritten at each start so that the port can change.
    as_owner tee "$DATA/csi-cluster.conf" >/dev/null <<EOF
listen_addresses = '${PG_LISTEN-127.0.0.1}'
port = $port
unix_socket_directories = '$DIR'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 50
shared_buffers = 32MB
max_wal_size = 256MB
logging_collector = off
log_line_prefix = '%m [%p] %q%u@%d '
log_min_messages = warning
timezone = 'UTC'
log_timezone = 'UTC'
EOF

    say "starting on 127.0.0.1:$port (dir $DIR)"
    if ! as_owner "$BINDIR/pg_ctl" start -w -t 60 -D "$DATA" -l "$DIR/log" >/dev/null; then
        tail -n 20 "$DIR/log" >&2 2>/dev/null || true
        die "pg_ctl start failed (log: $DIR/log)"
    fi
    say "running on 127.0.0.1:$port"
}

cmd_stop() {
    if [[ ! -f "$DATA/PG_VERSION" ]]; then
        say "no cluster in $DIR"
        return 0
    fi
    if ! is_running; then
        say "not running (dir $DIR)"
        return 0
    fi
    as_owner "$BINDIR/pg_ctl" stop -w -t 60 -m fast -D "$DATA" >/dev/null \
        || die "pg_ctl stop failed (log: $DIR/log)"
    say "stopped (dir $DIR)"
}

cmd_status() {
    if [[ ! -f "$DATA/PG_VERSION" ]]; then
        say "no cluster in $DIR"
        return 4
    fi
    if is_running; then
        say "running on 127.0.0.1:$(running_port), pid $(head -n 1 "$DATA/postmaster.pid") (dir $DIR)"
        return 0
    fi
    say "stopped (dir $DIR)"
    return 3
}

main() {
    [[ $# -ge 2 ]] || usage
    local action="$1"
    case "$action" in
        start) [[ $# -eq 3 ]] || usage ;;
        stop | status) [[ $# -eq 2 ]] || usage ;;
        *) usage ;;
    esac

    BINDIR="$(find_bindir)"
    if [[ "$action" == start ]]; then
        DIR="$(abs_dir "$2")"
    else
        [[ -d "$2" ]] || { say "no cluster in $2"; [[ "$action" == status ]] && exit 4; exit 0; }
        DIR="$(cd -- "$2" && pwd -P)"
    fi
    DATA="$DIR/data"

    case "$action" in
        start) cmd_start "$3" ;;
        stop) cmd_stop ;;
        status) cmd_status ;;
    esac
}

main "$@"
