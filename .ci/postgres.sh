#!/usr/bin/env bash
# Run a command with a throwaway PostgreSQL server (127.0.0.1 only) and ANTIFAKE_PG_URL set:
#   bash .ci/postgres.sh python -m pytest -q
# Installs the server with apt-get when initdb is missing, initdb's a cluster in a temporary
# directory (as the postgres user when run as root: the server refuses root), starts it on a
# free loopback port, creates the database "antifake", runs the command, and stops and removes
# the cluster whatever the outcome (trap). Exits with the command's status.
set -euo pipefail

find_bin() {
    local name=$1 hit
    if hit=$(command -v "$name" 2>/dev/null); then echo "$hit"; return 0; fi
    hit=$(ls -d /usr/lib/postgresql/*/bin/"$name" 2>/dev/null | sort -V | tail -n 1 || true)
    [ -n "$hit" ] && echo "$hit"
}

INITDB=$(find_bin initdb || true)
if [ -z "$INITDB" ]; then
    echo "postgres.sh: initdb not found: installing postgresql with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends postgresql >/dev/null
    INITDB=$(find_bin initdb)
fi
INITDB=$(readlink -f "$INITDB")
BIN=$(dirname "$INITDB")
PG_CTL="$BIN/pg_ctl"

PGROOT=$(mktemp -d /tmp/antifake-ci-pg.XXXXXX)
AS=()
if [ "$(id -u)" = 0 ]; then
    chown postgres:postgres "$PGROOT"
    AS=(runuser -u postgres --)
fi
chmod 700 "$PGROOT"

cleanup() {
    local status=$?
    "${AS[@]}" "$PG_CTL" -D "$PGROOT/data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
    rm -rf "$PGROOT"
    exit "$status"
}
trap cleanup EXIT INT TERM

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"${AS[@]}" "$INITDB" -D "$PGROOT/data" -U postgres -A trust -E UTF8 --no-locale --no-sync >/dev/null
"${AS[@]}" "$PG_CTL" -D "$PGROOT/data" -l "$PGROOT/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -k $PGROOT -c fsync=off -c full_page_writes=off -c max_connections=100 -c shared_buffers=256MB" \
    start >/dev/null || { cat "$PGROOT/server.log" >&2; exit 1; }
"${AS[@]}" "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres antifake
export ANTIFAKE_PG_URL="postgresql://postgres@127.0.0.1:$PORT/antifake"
echo "postgres.sh: $("$BIN/postgres" --version) at $ANTIFAKE_PG_URL" >&2

"$@"
