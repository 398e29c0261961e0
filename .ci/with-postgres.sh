#!/usr/bin/env bash
# Runs a command with a private PostgreSQL cluster (initdb + pg_ctl on a free loopback
# port under a temp dir, fsync off), exported as NAS_TEST_POSTGRES_URL, stopped at the end.
#
#   bash .ci/with-postgres.sh python -m pytest -q
#
# Installs Debian's `postgresql` when initdb is missing. initdb refuses to run as root,
# so as root the cluster belongs to the `postgres` system user (created if absent).
# The cluster listens on 127.0.0.1 only, with its unix socket inside the temp dir, and
# is always stopped and removed (trap), whatever the command does. The script exits
# with the command's status.
set -uo pipefail

log() { echo "with-postgres: $*" >&2; }

find_pg_bin() {
    local dir
    if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
        dirname "$(readlink -f "$(command -v pg_ctl)")"
        return 0
    fi
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [[ -x "$dir/initdb" && -x "$dir/pg_ctl" ]]; then
            echo "$dir"
            return 0
        fi
    done
    return 1
}

PG_BIN="$(find_pg_bin)"
if [[ -z "$PG_BIN" ]]; then
    if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
        log "initdb not found and cannot install postgresql (need root and apt-get)"
        exit 1
    fi
    log "installing Debian's postgresql"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q postgresql >/dev/null 2>&1 \
        || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q postgresql >/dev/null; } \
        || { log "apt-get install postgresql failed"; exit 1; }
    PG_BIN="$(find_pg_bin)" || { log "postgresql installed but initdb not found"; exit 1; }
fi

# initdb and postgres refuse root: run them as an unprivileged owner.
RUN_AS=()
if [[ "$(id -u)" == 0 ]]; then
    if ! id postgres >/dev/null 2>&1; then
        useradd --system --user-group --no-create-home --shell /usr/sbin/nologin postgres \
            || { log "cannot create the postgres user"; exit 1; }
    fi
    RUN_AS=(runuser -u postgres --)
fi

PG_DIR="$(mktemp -d "${TMPDIR:-/tmp}/nas-pg.XXXXXX")"
chmod 755 "$PG_DIR"
[[ ${#RUN_AS[@]} -gt 0 ]] && chown postgres: "$PG_DIR"
DATA="$PG_DIR/data"

cleanup() {
    if [[ -f "$DATA/postmaster.pid" ]]; then
        "${RUN_AS[@]}" "$PG_BIN/pg_ctl" -D "$DATA" -m immediate -w stop >/dev/null 2>&1
    fi
    rm -rf "$PG_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
    python3 - <<'EOF'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
EOF
}

PORT="$(free_port)"
if ! "${RUN_AS[@]}" "$PG_BIN/initdb" -D "$DATA" -U nas --auth=trust -E UTF8 --no-locale \
        >"$PG_DIR/initdb.log" 2>&1; then
    log "initdb failed:"; cat "$PG_DIR/initdb.log" >&2
    exit 1
fi
OPTS="-c listen_addresses=127.0.0.1 -p $PORT -c unix_socket_directories=$PG_DIR"
OPTS+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
if ! "${RUN_AS[@]}" "$PG_BIN/pg_ctl" -D "$DATA" -o "$OPTS" -l "$PG_DIR/server.log" -w -t 60 start \
        >/dev/null 2>&1; then
    log "pg_ctl start failed:"; cat "$PG_DIR/server.log" >&2
    exit 1
fi
if ! "${RUN_AS[@]}" "$PG_BIN/createdb" -h 127.0.0.1 -p "$PORT" -U nas nas_test >/dev/null 2>&1; then
    log "createdb failed"
    exit 1
fi

export NAS_TEST_POSTGRES_URL="postgresql+psycopg://nas@127.0.0.1:$PORT/nas_test"
export NAS_TEST_POSTGRES_ADMIN_URL="postgresql+psycopg://nas@127.0.0.1:$PORT/postgres"
log "PostgreSQL ($PG_BIN) on 127.0.0.1:$PORT, NAS_TEST_POSTGRES_URL=$NAS_TEST_POSTGRES_URL"

"$@"
status=$?
exit "$status"
