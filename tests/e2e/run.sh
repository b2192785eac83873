#!/usr/bin/env bash
# Black-box suite: runs every test/*.test.js against a tessera binary.
# Usage: tests/e2e/run.sh PATH/TO/tessera   (extra args go to node --test)
set -euo pipefail
if [ $# -lt 1 ]; then
  echo "usage: $0 PATH/TO/tessera [node --test args...]" >&2
  exit 2
fi
bin=$(realpath "$1")
shift
[ -x "$bin" ] || { echo "run.sh: $bin is not an executable" >&2; exit 2; }
cd "$(dirname "$0")"
# Node.js 20 or later (package.json "engines"; README): Debian 12's own
# nodejs is 18, which lacks --test-concurrency and the global WebCrypto.
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
  echo "run.sh: the black-box tests need Node.js 20 or later, found $(node --version)" >&2
  exit 2
fi

# Install the pinned packages when node_modules is missing or was made from
# another package-lock.json.
want=$(sha256sum package-lock.json | cut -d' ' -f1)
have=$(cat node_modules/.lock-hash 2>/dev/null || true)
if [ "$want" != "$have" ]; then
  npm ci --no-audit --no-fund --loglevel=error >&2
  echo "$want" > node_modules/.lock-hash
fi

export TESSERA_BIN="$bin"
# The store under test (lib/server.js): sqlite (default) or postgres, which
# needs TESSERA_PG_DSN, an admin DSN from scripts/pg.sh start.
export TESSERA_E2E_STORE=${TESSERA_E2E_STORE:-sqlite}
case "$TESSERA_E2E_STORE" in
  sqlite) ;;
  postgres)
    [ -n "${TESSERA_PG_DSN:-}" ] || { echo "run.sh: TESSERA_E2E_STORE=postgres needs TESSERA_PG_DSN (scripts/pg.sh start prints it)" >&2; exit 2; }
    export TESSERA_PG_DSN ;;
  *) echo "run.sh: TESSERA_E2E_STORE=$TESSERA_E2E_STORE: expected sqlite or postgres" >&2; exit 2 ;;
esac
echo "run.sh: store $TESSERA_E2E_STORE" >&2
case "$bin" in
  *asan*)
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    ;;
esac
# One file at a time (servers and timing checks share 2 cores).
exec node --test --test-concurrency=1 --test-reporter=spec "$@" test/*.test.js
