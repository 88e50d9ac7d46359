#!/usr/bin/env bash
# Usage: test/fuzz/run-mutants.sh SECONDS MUTANT...
#
# Runs the libFuzzer target built on each mutant copy of src/core
# (build/fuzz/mutant-NAME/core_fuzz, made by `make -f fuzz.mk fuzz-mutants`)
# for at most SECONDS, starting from the seed corpus, and expects it to find
# the planted bug: a failed check, or an ASan or UBSan report. Prints one line
# per mutant and "N passed, M failed", where a mutant that went unnoticed is a
# failure of the fuzzer. The same UBSan options as the real runs apply.
set -uo pipefail

cd "$(dirname "$0")/../.."
seconds=$1
shift
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:suppressions=$PWD/test/fuzz/ubsan.supp"

passed=0
failed=0
for m in "$@"; do
  dir=build/fuzz/mutant-$m
  rm -rf "$dir/corpus" "$dir"/crash-* && mkdir -p "$dir/corpus" test/fuzz/corpus
  start=$(date +%s)
  "$dir/core_fuzz" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$dir/" "$dir/corpus" test/fuzz/corpus >"$dir/run.log" 2>&1
  rc=$?
  took=$(($(date +%s) - start))
  what=$(grep -m1 -E 'core_fuzz: check failed|runtime error|ERROR: AddressSanitizer' "$dir/run.log" |
    sed -E 's/^==== core_fuzz: //; s/^.*(runtime error)/\1/')
  if [ "$rc" -ne 0 ] && [ -n "$what" ]; then
    detail=$(grep -m1 -A1 'core_fuzz: check failed' "$dir/run.log" | tail -1 | sed 's/^ *//')
    echo "caught  $m after ${took}s: $what${detail:+ -- $detail}"
    passed=$((passed + 1))
  else
    echo "MISSED  $m: no finding in ${took}s (exit $rc; log $dir/run.log)"
    failed=$((failed + 1))
  fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
