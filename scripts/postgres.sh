#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests: one directory, one port on
# 127.0.0.1, fsync off, removed by `stop`. Run as root, it runs the server as
# the `postgres` user (initdb refuses root); otherwise as the caller.
#
#   scripts/postgres.sh start DIR PORT ADMIN_PASSWORD [INIT_SCRIPT]
#                                                      initdb (if new) and start
#   scripts/postgres.sh stop DIR [--keep]              stop; remove DIR unless --keep
#   scripts/postgres.sh restart DIR                    stop and start again, data kept
#
# After `start`, the cluster accepts `postgres://postgres:ADMIN_PASSWORD@
# 127.0.0.1:PORT/postgres` (scram-sha-256 over TCP). A new cluster given an
# INIT_SCRIPT (deploy/postgres/init-databases.sh) runs it first, listening
# on its Unix socket only, the way the official image runs
# /docker-entrypoint-initdb.d: nothing can connect over TCP to a
# half-prepared cluster. The script gets the caller's environment (the
# roles' passwords) with PGHOST and PGPORT set.
set -euo pipefail

bin="${POSTGRES_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}"
if [[ ! -x "$bin/initdb" ]]; then
    echo "postgres.sh: PostgreSQL server binaries not found (install Debian's postgresql, or set POSTGRES_BIN)" >&2
    exit 1
fi

as_owner() {
    if [[ "$(id -u)" == 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

command="${1:?usage: postgres.sh start|stop|restart DIR ...}"
dir="${2:?usage: postgres.sh start|stop|restart DIR ...}"

case "$command" in
start)
    port="${3:?usage: postgres.sh start DIR PORT ADMIN_PASSWORD}"
    password="${4:?usage: postgres.sh start DIR PORT ADMIN_PASSWORD}"
    init_script="${5:-}"
    mkdir -p "$dir"
    if [[ "$(id -u)" == 0 ]]; then chown postgres: "$dir"; fi
    if [[ ! -f "$dir/data/PG_VERSION" ]]; then
        printf '%s\n' "$password" >"$dir/pwfile"
        if [[ "$(id -u)" == 0 ]]; then chown postgres: "$dir/pwfile"; fi
        as_owner "$bin/initdb" -D "$dir/data" -U postgres --pwfile="$dir/pwfile" \
            --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
            { cat "$dir/initdb.log" >&2; exit 1; }
        rm -f "$dir/pwfile"
        echo "$port" >"$dir/port"
        if [[ -n "$init_script" ]]; then
            as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
                -o "-p $port -c listen_addresses= -c unix_socket_directories=$dir" start >/dev/null ||
                { tail -n 50 "$dir/server.log" >&2; exit 1; }
            PGHOST="$dir" PGPORT="$port" POSTGRES_USER=postgres "$init_script" >"$dir/init.log" 2>&1 ||
                { cat "$dir/init.log" >&2; exit 1; }
            as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
        fi
    fi
    port="$(cat "$dir/port")"
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$dir -c max_connections=400 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start >/dev/null ||
        { tail -n 50 "$dir/server.log" >&2; exit 1; }
    ;;
stop)
    # Kept: a clean, fast shutdown (fsync is off, so a crash could lose the
    # last commits). Removed anyway: no need to be gentle.
    mode=immediate
    [[ "${3:-}" == "--keep" ]] && mode=fast
    if [[ -f "$dir/data/postmaster.pid" ]]; then
        as_owner "$bin/pg_ctl" -D "$dir/data" -m "$mode" -w stop >/dev/null 2>&1 || true
    fi
    [[ "${3:-}" == "--keep" ]] || rm -rf "$dir"
    ;;
restart)
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    "$0" start "$dir" "$(cat "$dir/port")" unused
    ;;
*)
    echo "postgres.sh: unknown command $command" >&2
    exit 2
    ;;
esac
