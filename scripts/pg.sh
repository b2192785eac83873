#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for the tests.
#
# Interface (other scripts rely on it; keep it stable):
#   bash scripts/pg.sh start   initdb a cluster in a temp dir (owned by the
#                              unprivileged `postgres` user), start it on a
#                              free loopback port and a socket dir, create
#                              role and database `tessera`, and print on
#                              stdout, one per line:
#       TESSERA_PG_DSN=postgres://tessera:PASS@127.0.0.1:PORT/tessera?sslmode=disable
#                              the admin DSN: role tessera has CREATEDB, so
#                              a caller may CREATE DATABASE through it (and
#                              use that database via the same user/password)
#       TESSERA_PG_HOST=127.0.0.1  TESSERA_PG_PORT=PORT
#       TESSERA_PG_USER=tessera    TESSERA_PG_PASSWORD=PASS
#       TESSERA_PG_SOCKDIR=/tmp/…  (socket dir; local connections are trusted)
#                              Lines are NAME=VALUE with no shell quoting
#                              needed: `eval "$(bash scripts/pg.sh start)"`
#                              or `export $(bash scripts/pg.sh start)`.
#   bash scripts/pg.sh env     prints the same lines for the running cluster
#   bash scripts/pg.sh stop    stops it and removes its directory
# One cluster per checkout: the state file is keyed by this repository's
# path (override with TESSERA_PG_STATE), so worktrees do not collide.
# Needs root (to run as `postgres`) or to be run as `postgres` itself.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
bin=/usr/lib/postgresql/15/bin
key=$(printf '%s' "$repo" | md5sum | cut -c1-12)
state=${TESSERA_PG_STATE:-${TMPDIR:-/tmp}/tessera-pg-$key.state}

as_pg() {
  if [ "$(id -un)" = postgres ]; then "$@"; else runuser -u postgres -- "$@"; fi
}

print_env() {
  # shellcheck disable=SC1090
  . "$state"
  echo "TESSERA_PG_DSN=postgres://tessera:$pw@127.0.0.1:$port/tessera?sslmode=disable"
  echo "TESSERA_PG_HOST=127.0.0.1"
  echo "TESSERA_PG_PORT=$port"
  echo "TESSERA_PG_USER=tessera"
  echo "TESSERA_PG_PASSWORD=$pw"
  echo "TESSERA_PG_SOCKDIR=$dir/sock"
}

# A random high port nobody listens on (pg_ctl start fails on a taken one,
# and start tries again with another).
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    if ! (command -v ss >/dev/null && ss -ltnH "sport = :$p" | grep -q .); then
      echo "$p"
      return
    fi
  done
}

start() {
  if [ -f "$state" ]; then
    echo "pg.sh: a cluster is already running ($state); stop it first" >&2
    exit 1
  fi
  [ -x "$bin/initdb" ] || bash "$repo/scripts/deps.sh" test >&2
  id postgres >/dev/null
  dir=$(mktemp -d "${TMPDIR:-/tmp}/tessera-pg.XXXXXX")
  chmod 755 "$dir"
  mkdir "$dir/data" "$dir/sock"
  pw=$(head -c 18 /dev/urandom | base64 | tr '+/' 'xy')
  printf '%s\n' "$pw" >"$dir/pw"
  chown -R postgres: "$dir"
  chmod 700 "$dir/data"
  as_pg "$bin/initdb" -D "$dir/data" -U postgres --auth-local=trust \
    --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; exit 1; }
  local tries=0
  while :; do
    port=$(free_port)
    if as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 30 \
         -o "-c listen_addresses=127.0.0.1 -p $port -k $dir/sock -c fsync=on -c max_connections=200" \
         start >/dev/null 2>&1; then
      break
    fi
    tries=$((tries + 1))
    [ $tries -lt 5 ] || { cat "$dir/log" >&2; rm -rf "$dir"; exit 1; }
  done
  printf 'dir=%s\nport=%s\npw=%s\n' "$dir" "$port" "$pw" >"$state"
  as_pg "$bin/psql" -q -h "$dir/sock" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 \
    -c "CREATE ROLE tessera LOGIN CREATEDB PASSWORD '$pw'" \
    -c "CREATE DATABASE tessera OWNER tessera" >/dev/null
  print_env
}

stop() {
  [ -f "$state" ] || exit 0
  # shellcheck disable=SC1090
  . "$state"
  as_pg "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  case "$dir" in "${TMPDIR:-/tmp}"/tessera-pg.*) rm -rf "$dir" ;; esac
  rm -f "$state"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  env) [ -f "$state" ] || { echo "pg.sh: no cluster running" >&2; exit 1; }; print_env ;;
  *) echo "usage: $0 start|stop|env" >&2; exit 2 ;;
esac
