#!/usr/bin/env bash
# Installs the Debian packages Tessera builds and tests with, only those
# missing. Needs root (or sudo). Usage: scripts/deps.sh [build|test|bench]
set -euo pipefail
what=${1:-build}

build_pkgs=(gcc make meson ninja-build pkg-config
  libmicrohttpd-dev libjansson-dev libsodium-dev libssl-dev liboath-dev
  libfido2-dev libcurl4-openssl-dev libsqlite3-dev libpq-dev sqlite3 ca-certificates)
test_pkgs=(clang libclang-rt-14-dev nodejs npm curl)
bench_pkgs=(wrk glewlwyd procps valgrind nettle-dev g++ make python3 linux-perf)

pkgs=("${build_pkgs[@]}")
case "$what" in
  test) pkgs+=("${test_pkgs[@]}") ;;
  bench) pkgs+=("${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
esac

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node may come from elsewhere than Debian's package; any node >= 18 will do.
if command -v node >/dev/null && command -v npm >/dev/null; then
  tmp=(); for p in "${missing[@]}"; do [[ $p == nodejs || $p == npm ]] || tmp+=("$p"); done
  missing=("${tmp[@]}")
fi
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
