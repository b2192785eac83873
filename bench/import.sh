#!/usr/bin/env bash
# The import rate (docs/BENCHMARKS.md "Import"): N users (default 1,000,000)
# with one bcrypt hash made by mkpasswd, imported by `tessera user import`
# into a fresh SQLite store and, when TESSERA_PG_DSN is an admin DSN that
# may CREATE DATABASE, into a fresh PostgreSQL database too.
# Usage: bench/import.sh [N]   (TESSERA_BIN, default build/tessera)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
bin=${TESSERA_BIN:-build/tessera}
dir=$(mktemp -d /tmp/tessera-import-XXXXXX)
trap 'rm -rf "$dir"' EXIT
hash=$(printf %s 'bench import passphrase' | mkpasswd -m bcrypt --stdin)
python3 - "$n" "$hash" "$dir/users.jsonl" <<'PY'
import json, sys
n, h, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
with open(out, 'w') as f:
    for i in range(n):
        f.write(json.dumps({'email': 'user%07d@bench.example' % i, 'password_hash': h,
                            'is_verified': True}) + '\n')
PY
run() {   # run LABEL DB
  "$bin" tenant add bench --db "$2" >/dev/null
  local t0 t1
  t0=$(date +%s.%N)
  "$bin" user import --tenant bench "$dir/users.jsonl" --db "$2" 2>/dev/null
  t1=$(date +%s.%N)
  python3 -c "import sys; s=float(sys.argv[2])-float(sys.argv[1]); print('%s: %d users in %.1f s, %.0f users/s' % (sys.argv[3], int(sys.argv[4]), s, int(sys.argv[4])/s))" "$t0" "$t1" "$1" "$n"
}
run sqlite "sqlite:$dir/import.db"
if [ -n "${TESSERA_PG_DSN:-}" ]; then
  db="tessera_import_$$"
  psql "$TESSERA_PG_DSN" -qAt -c "CREATE DATABASE $db"
  dsn=$(python3 -c "import sys, urllib.parse as u; p = u.urlparse(sys.argv[1]); print(p._replace(path='/' + sys.argv[2]).geturl())" "$TESSERA_PG_DSN" "$db")
  run postgres "$dsn" || true
  psql "$TESSERA_PG_DSN" -qAt -c "DROP DATABASE $db"
fi
