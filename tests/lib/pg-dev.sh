#!/usr/bin/env bash
# Development stand-in for scripts/pg.sh (same interface; scripts/pg.sh
# belongs to the PostgreSQL backend): a throwaway PostgreSQL 15 cluster,
# initdb'd as the unprivileged postgres user in a temp dir, on a loopback
# port.
#   start  prints TESSERA_PG_DSN=postgres://postgres@127.0.0.1:PORT/postgres
#   stop   stops it and removes the temp dir
set -euo pipefail
pgbin=/usr/lib/postgresql/15/bin
state=${TESSERA_PG_DEV_STATE:-/tmp/tessera-pg-dev.state}
as_pg() { if [ "$(id -un)" = postgres ]; then "$@"; else runuser -u postgres -- "$@"; fi; }

case "${1:-}" in
  start)
    dir=$(mktemp -d /tmp/tessera-pg-dev.XXXXXX)
    chown postgres: "$dir"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    as_pg "$pgbin/initdb" -D "$dir/data" -U postgres -A trust --no-sync >"$dir/initdb.log" 2>&1
    as_pg "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/pg.log" -w \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=300 -c fsync=on" start >/dev/null
    echo "$dir $port" > "$state"
    echo "TESSERA_PG_DSN=postgres://postgres@127.0.0.1:$port/postgres"
    ;;
  stop)
    [ -f "$state" ] || exit 0
    read -r dir _ < "$state"
    as_pg "$pgbin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$dir" "$state"
    ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
