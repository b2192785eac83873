#!/usr/bin/env bash
# Installs the Debian packages Tessera builds and tests with, only those
# missing. Needs root (or sudo). Usage: scripts/deps.sh [build|test|bench]
set -euo pipefail
what=${1:-build}

build_pkgs=(gcc make meson ninja-build pkg-config
  libmicrohttpd-dev libjansson-dev libsodium-dev libssl-dev liboath-dev
  libfido2-dev libcbor-dev libcurl4-openssl-dev libsqlite3-dev libpq-dev sqlite3 ca-certificates
  libsystemd-dev scdoc libunistring-dev libcrypt-dev libqrencode-dev)
# debhelper, dpkg-dev, lintian: the Debian package test (tests/pkg/run.sh);
# python3: the fake NOTIFY_SOCKET of the black-box suite; systemd: its
# systemd-analyze verify; whois (mkpasswd), argon2: hashes made by other tools
# for the import tests
# haproxy: the multi-node test; postgresql-15: the throwaway cluster of the
# tests (scripts/pg.sh); psql: the black-box suite on PostgreSQL; openssl:
# the TLS tests (certificates, s_client); python3-prometheus-client: the
# metrics test parses the exposition with the reference parser; chromium,
# zbar-tools: the hosted pages' browser tests (playwright-core, zbarimg);
# apache2, libapache2-mod-auth-openidc: the OIDC relying-party test (oidc-apache)
test_pkgs=(clang libclang-rt-14-dev curl haproxy postgresql-15 postgresql-client-15
  debhelper dpkg-dev lintian python3 systemd whois argon2 openssl python3-prometheus-client chromium zbar-tools
  apache2 libapache2-mod-auth-openidc)   # and Node.js >= 20, see below
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
# The black-box tests need Node.js 20 or later (tests/e2e/package.json
# "engines"; node:test's --test-concurrency and the global WebCrypto jose
# uses). Debian 12's own nodejs is 18, so it is never installed from apt:
# a node >= 20 must come from elsewhere (the machine image has 20).
if [ "$what" != build ]; then
  major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  if [ "$major" -lt 20 ] || ! command -v npm >/dev/null; then
    echo "deps: the black-box tests need Node.js 20 or later with npm (found: $(node --version 2>/dev/null || echo none));" \
         "Debian 12's nodejs is 18: install Node.js 20, e.g. from https://deb.nodesource.com, and run again" >&2
    exit 1
  fi
fi
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
