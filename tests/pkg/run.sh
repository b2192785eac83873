#!/usr/bin/env bash
# The Debian package, end to end (issue 12): builds it from a temporary
# copy of the tree (the worktree stays clean), runs lintian (any error
# fails; warnings are printed and listed in docs/OPERATIONS.md), installs
# it with dpkg -i, checks the installed unit with systemd-analyze verify,
# serves with the installed binary and example config (loopback port,
# temporary state directory, as the tessera user) and logs in; then
# purges the package. Needs root. Usage: tests/pkg/run.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
[ "$(id -u)" -eq 0 ] || { echo "pkg: needs root (dpkg -i)" >&2; exit 2; }
if dpkg-query -W -f='${Status}' tessera 2>/dev/null | grep -q "install ok installed"; then
  echo "pkg: a tessera package is installed already; refusing to replace it" >&2
  exit 2
fi
work=$(mktemp -d /tmp/tessera-pkg.XXXXXX)
chmod 0711 "$work"   # the tessera user reaches its state directory inside
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  dpkg --purge tessera >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "pkg: copying the tree to $work/src" >&2
mkdir "$work/src"
if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  (cd "$root" && git ls-files -co --exclude-standard -z | tar --null -T - -cf -) | tar -C "$work/src" -xf -
else
  tar -C "$root" --exclude='./build*' --exclude='./tests/e2e/node_modules' -cf - . | tar -C "$work/src" -xf -
fi

echo "pkg: dpkg-buildpackage -us -uc -b" >&2
if ! (cd "$work/src" && DEB_BUILD_OPTIONS="nocheck parallel=2" dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1; then
  tail -40 "$work/build.log" >&2
  echo "pkg: the package build failed" >&2
  exit 1
fi
deb=$(ls "$work"/tessera_*.deb)
changes=$(ls "$work"/tessera_*.changes)

echo "pkg: lintian" >&2
lintian --fail-on error --tag-display-limit 0 "$changes" >&2 || { echo "pkg: lintian reports errors" >&2; exit 1; }

echo "pkg: dpkg -i $(basename "$deb")" >&2
dpkg -i "$deb" >/dev/null
for f in /usr/bin/tessera /lib/systemd/system/tessera.service /etc/tessera/tessera.conf \
         /usr/share/man/man1/tessera.1.gz /usr/share/man/man5/tessera.conf.5.gz; do
  [ -e "$f" ] || { echo "pkg: $f is not installed" >&2; exit 1; }
done
getent passwd tessera >/dev/null || { echo "pkg: postinst made no tessera user" >&2; exit 1; }
systemd-analyze verify /lib/systemd/system/tessera.service
/usr/bin/tessera config check --config /etc/tessera/tessera.conf >/dev/null

# The installed binary with the installed example config; the state
# directory and port are the test's (flags win over the file).
state="$work/state"
install -d -o tessera -g tessera -m 0700 "$state"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
as_tessera() { setpriv --reuid=tessera --regid=tessera --init-groups /usr/bin/tessera "$@" --config /etc/tessera/tessera.conf \
  --db "sqlite:$state/tessera.db" --pw-opslimit 1 --pw-memlimit-kib 8192; }
password="pkg-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
as_tessera tenant add pkg >/dev/null
printf '%s\n' "$password" | as_tessera user add --tenant pkg --email op@example.com --verified >/dev/null
# As the unit runs it, as far as setpriv goes: the tessera user, no new
# privileges, an empty capability bounding set (the seccomp filter and
# namespaces need systemd as PID 1, which this machine does not run).
setpriv --reuid=tessera --regid=tessera --init-groups --no-new-privs --bounding-set=-all \
  --inh-caps=-all /usr/bin/tessera serve \
  --config /etc/tessera/tessera.conf --db "sqlite:$state/tessera.db" \
  --listen "127.0.0.1:$port" --default-tenant pkg >"$work/serve.log" 2>&1 &
pid=$!              # setpriv execs: the server's own pid
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
token=$(curl -fs "http://127.0.0.1:$port/v1/auth/login" -H 'Content-Type: application/json' \
  -d "{\"email\":\"op@example.com\",\"password\":\"$password\"}" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])') ||
  { cat "$work/serve.log" >&2; echo "pkg: login against the installed server failed" >&2; exit 1; }
curl -fs "http://127.0.0.1:$port/v1/auth/me" -H "Authorization: Bearer $token" | grep -q op@example.com ||
  { echo "pkg: me failed" >&2; exit 1; }
kill "$pid"
wait "$pid" || { cat "$work/serve.log" >&2; echo "pkg: the server did not stop cleanly" >&2; exit 1; }
pid=""
if grep -q "$password" "$work/serve.log"; then echo "pkg: the password is in the log" >&2; exit 1; fi

dpkg --purge tessera >/dev/null
[ ! -e /usr/bin/tessera ] || { echo "pkg: purge left /usr/bin/tessera" >&2; exit 1; }
echo "pkg: ok (built, lintian clean of errors, installed, served a login, purged)" >&2
