#!/usr/bin/env bash
# Start a throw-away PostgreSQL server on 127.0.0.1 for the tests and print its SQLAlchemy URL:
#   export XRAY_TEST_POSTGRES_URL="$(bash scripts/postgres.sh)"
# Debian's postgresql (apt-get install postgresql) is used; as root, the server runs as the `postgres` user. The
# cluster lives in a temporary folder (trust authentication, loopback only, no disk sync: test data only) and is
# stopped by `bash scripts/postgres.sh stop`.
set -euo pipefail
PORT="${XRAY_TEST_POSTGRES_PORT:-54329}"
DATA="${TMPDIR:-/tmp}/xray-test-postgres-$PORT"
BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)"
if [ -z "$BIN" ]; then
  echo "PostgreSQL is not installed (as root: apt-get install -y postgresql)." >&2
  exit 1
fi
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

if [ "${1:-start}" = stop ]; then
  [ -d "$DATA" ] && as_owner "$BIN/pg_ctl" -D "$DATA" -m fast stop >/dev/null 2>&1 || true
  exit 0
fi
if ! as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
  rm -rf "$DATA"
  mkdir -p "$DATA"
  [ "$(id -u)" = 0 ] && chown postgres: "$DATA"
  as_owner "$BIN/initdb" -D "$DATA" -U postgres --auth=trust --no-sync -E UTF8 >/dev/null
  as_owner "$BIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w start \
    -o "-h 127.0.0.1 -p $PORT -k $DATA -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" >/dev/null
fi
echo "postgresql+psycopg://postgres@127.0.0.1:$PORT/postgres"
