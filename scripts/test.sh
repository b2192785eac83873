#!/usr/bin/env bash
# Installs what is missing, builds (release and ASan+UBSan), and runs every
# test: unit tests of both builds, then the black-box suite against the real
# server of each build. Exits non-zero on any failure or sanitizer report.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh test
bash scripts/build.sh release >/dev/null
bash scripts/build.sh asan >/dev/null

echo "== unit tests (release)"
meson test -C build --print-errorlogs
echo "== unit tests (asan+ubsan)"
meson test -C build-asan --print-errorlogs

echo "== fuzz (10 s per harness, ASan+UBSan)"
bash tests/fuzz/run.sh 10

echo "== black-box suite"
bash tests/e2e/run.sh build/tessera
echo "== black-box suite (asan+ubsan)"
bash tests/e2e/run.sh build-asan/tessera
