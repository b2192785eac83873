#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a running server: installs
# what is missing, builds, and serves on 127.0.0.1:8080 with SQLite under
# ./data, creating a demo tenant and user whose credentials it prints.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh build
bin=$(bash scripts/build.sh release)
mkdir -p -m 700 data   # holds signing keys and TOTP secrets
exec "$bin" serve --db sqlite:data/tessera.db --demo "$@"
