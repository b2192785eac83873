#!/bin/bash
# Per-request heap and syscall counts of the server (bench/counts.py):
#   bash bench/counts.sh [BIN] [N]     (default build/tessera, 2000)
# Needs strace and a C compiler; writes bench/out/counts.json.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/out
cc -O2 -shared -fPIC -o bench/out/mcount.so bench/mcount.c -ldl
exec python3 bench/counts.py "${1:-build/tessera}" "${2:-2000}"
