#!/usr/bin/env bash
# Builds the libFuzzer harnesses (clang, ASan+UBSan, in build-fuzz/) and runs
# each for SECONDS on a temporary copy of its seed corpus, so the corpus in
# the repository stays as it is. Exits non-zero when any harness finds a
# crash, a sanitizer report, a leak, a timeout or an out-of-memory; the
# input that did it is kept in build-fuzz/crashes/.
# Usage: tests/fuzz/run.sh SECONDS [HARNESS...]   (make fuzz runs 300 each)
set -euo pipefail
cd "$(dirname "$0")/../.."

secs=${1:-10}
shift || true
case "$secs" in
  ''|*[!0-9]*) echo "usage: $0 SECONDS [HARNESS...]" >&2; exit 2 ;;
esac
all=(fuzz_json_body fuzz_bearer fuzz_jwt fuzz_b64url fuzz_base32 fuzz_utf8_email fuzz_dispatch fuzz_http_lines
  fuzz_pwhash fuzz_jsonl
  fuzz_wa_client_data fuzz_wa_authdata fuzz_wa_attestation fuzz_wa_credential)
harnesses=("${@:-${all[@]}}")
dir=build-fuzz

command -v clang >/dev/null || { echo "fuzz: clang is needed (apt-get install clang libclang-rt-dev)" >&2; exit 2; }
if ! grep -q fuzz_wa_credential "$dir/build.ninja" 2>/dev/null; then
  # -fsanitize=fuzzer-no-link gives the layer libraries coverage too, not
  # only the harness files. A build-fuzz made some other way is redone.
  wipe=()
  [ -d "$dir" ] && wipe=(--wipe)
  CC=clang meson setup "$dir" "${wipe[@]}" -Dfuzz=true -Db_sanitize=address,undefined \
    -Db_lundef=false --buildtype=debug -Dc_args=-fsanitize=fuzzer-no-link >/dev/null
fi
targets=()
for h in "${harnesses[@]}"; do targets+=("tests/fuzz/$h"); done
ninja -C "$dir" "${targets[@]}" >/dev/null

# UBSan only reports and goes on unless told to stop; a report is a crash.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tessera-fuzz.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$dir/crashes"
failed=()
for h in "${harnesses[@]}"; do
  mkdir -p "$tmp/$h" "$tmp/art"
  cp -r "tests/fuzz/corpus/$h/." "$tmp/$h/" 2>/dev/null || true
  dict=()
  case "$h" in
    fuzz_json_body|fuzz_dispatch|fuzz_wa_client_data|fuzz_wa_credential) dict=(-dict=tests/fuzz/json.dict) ;;
    fuzz_jwt) dict=(-dict=tests/fuzz/jwt.dict) ;;
  esac
  log="$tmp/$h.log"
  rc=0
  "$dir/tests/fuzz/$h" "${dict[@]}" -max_total_time="$secs" -timeout=5 -rss_limit_mb=2048 \
    -max_len=20000 -print_final_stats=1 -artifact_prefix="$tmp/art/$h-" "$tmp/$h" >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
  if [ "$rc" -ne 0 ]; then
    failed+=("$h")
    cp "$tmp/art/$h-"* "$dir/crashes/" 2>/dev/null || true
    echo "FAIL $h (exit $rc, ${execs:-?} runs)"
    # The report, and the stack frames in our own code.
    { grep -E 'ERROR:|invariant failed|runtime error|SUMMARY|fuzz_dispatch:|#[0-9]+ 0x.* in .*/(src|tests/fuzz)/[^ ]*\.c:[0-9]+' "$log" |
        awk '!seen[$0]++' | head -24 | sed 's/^/  /'; } || true
    for a in "$tmp/art/$h-"*; do
      [ -e "$a" ] && echo "  reproduce: UBSAN_OPTIONS=halt_on_error=1 $dir/tests/fuzz/$h $dir/crashes/$(basename "$a")"
    done
  else
    echo "ok   $h: ${execs:-?} runs in ${secs}s, ${cov:-cov: ?}"
  fi
done
if [ ${#failed[@]} -ne 0 ]; then
  echo "fuzz: ${#failed[@]} harness(es) failed: ${failed[*]}" >&2
  exit 1
fi
