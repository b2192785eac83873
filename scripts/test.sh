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

echo "== Debian package (build, lintian, dpkg -i, a login, purge)"
bash tests/pkg/run.sh

echo "== black-box suite"
bash tests/e2e/run.sh build/tessera
echo "== black-box suite (asan+ubsan)"
bash tests/e2e/run.sh build-asan/tessera

# The same black-box suite on PostgreSQL (release build), on the cluster
# started above: each test makes its own database through the admin DSN.
echo "== black-box suite (postgresql)"
TESSERA_E2E_STORE=postgres bash tests/e2e/run.sh build/tessera
