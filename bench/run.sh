#!/usr/bin/env bash
# The Tessera benchmark, in one command (`make bench`):
#   bash bench/run.sh            full run, ~12 min: medians of 3 runs of 10 s
#   bash bench/run.sh --quick    ~3 min: 1 run of 4 s, no callgrind profile
# other flags: --profile / --no-profile (perf + callgrind of the token paths; on
# in full mode), --no-peers (Tessera only), --out FILE (default
# docs/BENCHMARKS.md), --head (benchmark the committed HEAD, built apart in
# bench/out, instead of the work tree's build/tessera).
#   bash bench/run.sh --compare REV [--rounds N]   the quick figures of REV
#                               (built from git archive) and of the work tree
#                               (build/tessera), interleaved in one run, with
#                               the ratios work tree / REV; writes only
#                               bench/out/compare.json.
#   bash bench/run.sh --scale   scale-out mode, Tessera only (~4 min + the
#                               table load): SQLite vs PostgreSQL on one node,
#                               1/2/3 nodes on PostgreSQL behind HAProxy, table
#                               sizes after a refresh load (--table-secs S,
#                               default 300; --scale-secs S per figure, default
#                               5; --sweep-interval S when the server has it).
#                               Uses TESSERA_PG_DSN, or starts scripts/pg.sh.
# TESSERA_BIN=path uses that binary (TESSERA_DESC=text says what it is).
# `node bench/bench.mjs --render` rewrites the report from the last
# bench/out/results.json without measuring.
# Installs what it needs (Debian packages via scripts/deps.sh bench, npm
# packages in bench/peers from its lockfile), measures, and writes
# docs/BENCHMARKS.md plus bench/out/results.json. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=$root/bench/out
mkdir -p "$out/bin"

SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo

# 1. Debian packages: the project's list, plus what the bench alone uses.
bash scripts/deps.sh bench
extra=()
for p in g++ make python3 valgrind nettle-dev; do  # g++/make/python3: node-gyp builds better-sqlite3; nettle: Glewlwyd's PBKDF2
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || extra+=("$p")
done
if [ ${#extra[@]} -gt 0 ]; then
  echo "bench: installing ${extra[*]}" >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${extra[@]}" >/dev/null \
    || { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${extra[@]}" >/dev/null; }
fi

# 2. The server. The bench runs a snapshot copy (bench/out/bin/tessera): others
# may rebuild build/ while it runs.
head=0 scale=0 cmp_rev="" prev=""
for a in "$@"; do
  [ "$a" = --head ] && head=1
  [ "$a" = --scale ] && scale=1
  [ "$prev" = --compare ] && cmp_rev=$a
  prev=$a
done
rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
# Builds commit $1 alone from git archive (apart from the work tree and
# build/) into bench/out/build-REV; prints the binary's path.
build_rev() {
  local r src
  r=$(git rev-parse --short "$1^{commit}") || { echo "bench: no commit $1" >&2; exit 1; }
  src=$out/src-$r
  rm -rf "$src" && mkdir -p "$src"
  git archive "$r" | tar -x -C "$src"
  [ -f "$out/build-$r/build.ninja" ] || meson setup "$out/build-$r" "$src" --buildtype=release >/dev/null
  ninja -C "$out/build-$r" tessera >/dev/null
  echo "$out/build-$r/tessera"
}
if [ -n "$cmp_rev" ]; then
  a_bin=$(build_rev "$cmp_rev")
  cp "$a_bin" "$out/bin/tessera-a"
  bash scripts/build.sh release >/dev/null
  ninja -C build tessera >/dev/null
  cp build/tessera "$out/bin/tessera-b"
  dirty=""; [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] && dirty=" + uncommitted changes"
  export TESSERA_BIN_A=$out/bin/tessera-a TESSERA_BIN_B=$out/bin/tessera-b
  export TESSERA_DESC_A="commit $(git rev-parse --short "$cmp_rev") ($cmp_rev, release)"
  export TESSERA_DESC_B="work tree at $rev$dirty (build/tessera, release)"
fi
if [ -n "${TESSERA_BIN:-}" ]; then
  bin=$(realpath "$TESSERA_BIN")
  desc=${TESSERA_DESC:-"given binary $TESSERA_BIN"}
elif [ "$head" = 1 ]; then
  # the committed HEAD alone, built apart from the work tree and build/
  src=$out/src-$rev
  rm -rf "$src" && mkdir -p "$src"
  git archive HEAD | tar -x -C "$src"
  [ -f "$out/build-$rev/build.ninja" ] || meson setup "$out/build-$rev" "$src" --buildtype=release >/dev/null
  ninja -C "$out/build-$rev" tessera >/dev/null
  bin=$out/build-$rev/tessera
  desc="commit $rev (HEAD, built from git archive, release)"
else
  bash scripts/build.sh release >/dev/null
  bin=$root/build/tessera
  dirty=""; [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] && dirty=" + uncommitted changes"
  desc="work tree at $rev$dirty (build/tessera, release)"
fi
[ -x "$bin" ] || { echo "bench: no Tessera binary at $bin" >&2; exit 1; }
cp "$bin" "$out/bin/tessera.new" && mv -f "$out/bin/tessera.new" "$out/bin/tessera"
export TESSERA_BIN=$out/bin/tessera TESSERA_DESC=$desc

# 3. The bench's own tools.
cc=${CC:-gcc}
$cc -O2 -Wall -Wextra -o "$out/bin/hashbound" bench/hashbound.c \
  $(pkg-config --cflags --libs libsodium nettle) -lpthread
$cc -O2 -Wall -Wextra -o "$out/bin/loadgen" bench/loadgen.c -lm

# 4. The node peer (not in --scale mode) (better-auth + better-sqlite3, compiled from source: ~1.5 min the first time).
[ "$scale" = 1 ] || [ -n "$cmp_rev" ] || (
  cd bench/peers
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    echo "bench: npm ci in bench/peers" >&2
    npm ci --no-audit --no-fund --loglevel=error >&2
  fi
  if ! node -e "new (require('better-sqlite3'))(':memory:')" 2>/dev/null; then
    echo "bench: building better-sqlite3" >&2
    npm rebuild better-sqlite3 --loglevel=error >&2
  fi
)

# 5. Measure. Every server the bench starts is killed when it ends, whatever happens.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
bench_pid="" pg_started=0
cleanup() {
  [ -n "$bench_pid" ] && kill "$bench_pid" 2>/dev/null || true
  if [ -f "$out/pids" ]; then
    while read -r pid; do [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true; done < "$out/pids"
    rm -f "$out/pids"
  fi
  [ "$pg_started" = 1 ] && bash scripts/pg.sh stop >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM
if [ "$scale" = 1 ]; then
  command -v haproxy >/dev/null || bash scripts/deps.sh test >&2
  if [ -z "${TESSERA_PG_DSN:-}" ]; then
    # shellcheck disable=SC2046
    export $(bash scripts/pg.sh start | grep '^TESSERA_PG_DSN=')
    pg_started=1
  fi
fi
node bench/bench.mjs "$@" &
bench_pid=$!
wait "$bench_pid"
