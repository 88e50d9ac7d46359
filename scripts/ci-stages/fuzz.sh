#!/usr/bin/env bash
# CI stage (run by scripts/test.sh after the database tests, with the
# extension built and installed): short versions of the fuzzing and
# sanitizer runs, a few minutes in all.
#
#   1. libFuzzer over src/core for 60 s, and the planted-bug self-test;
#   2. the SQL fuzzer, 10,000 calls on a throwaway cluster with the installed build;
#   3. the regression suite and 10,000 more SQL fuzzer calls against the
#      extension built with -fsanitize=address,undefined, on a private server.
# valgrind (scripts/valgrind.sh) is too slow for CI and runs on demand.
# Ends with "N passed, M failed".
set -uo pipefail

cd "$(dirname "$0")/../.."
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
mkdir -p build

passed=0
failed=0
add_counts() {
  local log=$1 counts ok bad
  counts=$(sed -nE 's/^([0-9]+) passed, ([0-9]+) failed$/\1 \2/p' "$log" | tail -1)
  if [ -n "$counts" ]; then
    read -r ok bad <<<"$counts"
  else
    ok=0
    bad=1
  fi
  passed=$((passed + ok))
  failed=$((failed + bad))
}

if ! bash scripts/install-fuzz-deps.sh; then
  echo "0 passed, 1 failed"
  exit 1
fi

start=$SECONDS
echo "--> libFuzzer 60 s, planted bugs, SQL fuzzer 10,000 calls"
bash scripts/fuzz.sh --seconds 60 --mutant-seconds 30 --calls 10000 2>&1 | tee build/ci-fuzz.log
add_counts build/ci-fuzz.log
echo "(fuzzers: $((SECONDS - start)) s)"

start=$SECONDS
echo "--> ASan + UBSan build: regression suite and 10,000 SQL fuzzer calls"
bash scripts/sanitize.sh --sql-calls 10000 2>&1 | tee build/ci-sanitize.log
add_counts build/ci-sanitize.log
echo "(sanitizers: $((SECONDS - start)) s)"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
