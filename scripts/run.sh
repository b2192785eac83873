#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a running server: installs
# what is missing, builds, and serves on 127.0.0.1:8080 with SQLite under
# ./data, creating a demo tenant and user (only when missing; a new user's
# password is printed once). Running it again while a server runs fails on
# the busy port before touching the database.
#
# Environment (all optional; the tests use them to stay off ./data and 8080):
#   TESSERA_RUN_DATA    data directory (default ./data)
#   TESSERA_RUN_LISTEN  ADDR:PORT to serve on (default 127.0.0.1:8080)
#   TESSERA_RUN_BIN     an already built tessera: skips installing and building
# Extra arguments go to `tessera serve` (they win over the above).
set -euo pipefail
cd "$(dirname "$0")/.."
data=${TESSERA_RUN_DATA:-data}
listen=${TESSERA_RUN_LISTEN:-127.0.0.1:8080}
if [ -n "${TESSERA_RUN_BIN:-}" ]; then
  bin=$TESSERA_RUN_BIN
else
  bash scripts/deps.sh build
  bin=$(bash scripts/build.sh release)
fi
mkdir -p -m 700 "$data"   # holds signing keys and TOTP secrets
exec "$bin" serve --listen "$listen" --db "sqlite:$data/tessera.db" --demo "$@"
