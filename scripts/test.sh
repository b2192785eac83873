#!/usr/bin/env bash
# Installs what is missing, builds (release and ASan+UBSan), and runs every
# test: unit tests of both builds (the store conformance suite on SQLite and
# on a throwaway PostgreSQL cluster, scripts/pg.sh), then the black-box
# suite against the real server of each build. Exits non-zero on any
# failure or sanitizer report.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh test
bash scripts/build.sh release >/dev/null
bash scripts/build.sh asan >/dev/null

# One PostgreSQL for the whole run, stopped however the run ends.
trap 'bash scripts/pg.sh stop' EXIT
bash scripts/pg.sh stop                 # a cluster left by an aborted run
pg_env=$(bash scripts/pg.sh start)
TESSERA_PG_DSN=$(printf '%s\n' "$pg_env" | sed -n 's/^TESSERA_PG_DSN=//p')
export TESSERA_PG_DSN

echo "== unit tests (release)"
meson test -C build --print-errorlogs
echo "== unit tests (asan+ubsan)"
meson test -C build-asan --print-errorlogs
echo "== store conformance suite on PostgreSQL (release)"
TESSERA_TEST_STORE=$TESSERA_PG_DSN meson test -C build --print-errorlogs store
echo "== store conformance suite on PostgreSQL (asan+ubsan)"
TESSERA_TEST_STORE=$TESSERA_PG_DSN meson test -C build-asan --print-errorlogs store

echo "== fuzz (10 s per harness, ASan+UBSan)"
bash tests/fuzz/run.sh 10

echo "== black-box suite"
bash tests/e2e/run.sh build/tessera
echo "== black-box suite (asan+ubsan)"
bash tests/e2e/run.sh build-asan/tessera

# The same black-box suite on PostgreSQL (release build): scripts/pg.sh
# (the PostgreSQL backend's) starts a throwaway cluster and prints its
# admin DSN; each test makes its own database on it.
if [ -f scripts/pg.sh ]; then
  echo "== black-box suite (postgresql)"
  pg_out=$(bash scripts/pg.sh start)
  trap 'bash scripts/pg.sh stop' EXIT
  dsn=$(printf '%s\n' "$pg_out" | sed -n 's/^TESSERA_PG_DSN=//p' | tail -n1)
  [ -n "$dsn" ] || { echo "test.sh: scripts/pg.sh start printed no TESSERA_PG_DSN line" >&2; exit 1; }
  TESSERA_E2E_STORE=postgres TESSERA_PG_DSN="$dsn" bash tests/e2e/run.sh build/tessera
else
  echo "== black-box suite (postgresql): SKIPPED: scripts/pg.sh is absent (the PostgreSQL backend is not in this tree)"
fi
