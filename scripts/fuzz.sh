#!/usr/bin/env bash
# Full fuzzing runs:
#   bash scripts/fuzz.sh [--seconds N] [--jobs J] [--calls N] [--mutant-seconds N] [--strict]
#
#   1. the libFuzzer target over src/core (test/fuzz/core_fuzz.cpp, ASan +
#      UBSan) for N seconds (default 600) with J processes (default 1);
#   2. the planted-bug self-test: every test/fuzz/mutants/*.sed must be caught
#      within --mutant-seconds (default 60);
#   3. the SQL fuzzer (test/fuzz/sql_fuzz.py), --calls N (default 100000), on
#      a throwaway cluster with the installed extension (`make install` first).
#
# --strict also fails on the known, reported issues (test/fuzz/README.md,
# "Findings"): libFuzzer runs the -DFUZZ_STRICT build without UBSan
# suppressions, and the SQL fuzzer counts known SQLSTATE deviations.
# Ends with "N passed, M failed", one check per part and per mutant; the
# figures of the run go to build/fuzz/summary.txt.
set -euo pipefail

cd "$(dirname "$0")/.."
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}

seconds=600
jobs=1
calls=100000
mutant_seconds=60
strict=
while [ $# -gt 0 ]; do
  case $1 in
    --seconds) seconds=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --calls) calls=$2; shift 2 ;;
    --mutant-seconds) mutant_seconds=$2; shift 2 ;;
    --strict) strict=1; shift ;;
    *) echo "usage: $0 [--seconds N] [--jobs J] [--calls N] [--mutant-seconds N] [--strict]" >&2; exit 2 ;;
  esac
done

bash scripts/install-fuzz-deps.sh
mkdir -p build/fuzz
summary=build/fuzz/summary.txt
: >"$summary"
passed=0
failed=0
check() {
  if [ "$1" = ok ]; then passed=$((passed + 1)); echo "ok      $2"; else failed=$((failed + 1)); echo "FAILED  $2"; fi
  echo "$1 $2" >>"$summary"
}

echo "==> libFuzzer: test/fuzz/core_fuzz.cpp for ${seconds}s, $jobs job(s)"
rm -f build/fuzz/crash-* build/fuzz/timeout-* build/fuzz/oom-*
rc=0
make -s -f fuzz.mk fuzz-run FUZZ_SECONDS="$seconds" FUZZ_JOBS="$jobs" FUZZ_STRICT="$strict" \
  >build/fuzz/libfuzzer.log 2>&1 || rc=$?
# Executions: the final stats of a single process, or the last status line of -fork.
execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' build/fuzz/libfuzzer.log | tail -1)
[ -n "$execs" ] || execs=$(grep -oE '^#[0-9]+' build/fuzz/libfuzzer.log | tail -1 | tr -d '#')
cov=$(grep -oE 'cov: [0-9]+' build/fuzz/libfuzzer.log | tail -1)
if [ "$rc" -eq 0 ] && ! ls build/fuzz/crash-* >/dev/null 2>&1; then
  check ok "libFuzzer: ${execs:-?} executions in ${seconds}s, ${cov:-cov: ?} edges, 0 findings"
else
  check bad "libFuzzer found a problem after ${execs:-?} executions (build/fuzz/libfuzzer.log, build/fuzz/crash-*)"
  grep -E -A12 'core_fuzz: check failed|runtime error|ERROR: (AddressSanitizer|libFuzzer)' build/fuzz/libfuzzer.log | head -40
fi

echo "==> planted bugs (test/fuzz/mutants)"
rc=0
make -s -f fuzz.mk -j2 fuzz-selftest MUTANT_SECONDS="$mutant_seconds" >build/fuzz/mutants.log 2>&1 || rc=$?
while read -r line; do
  case $line in
    "caught  "*) check ok "mutant ${line#caught  }" ;;
    "MISSED  "*) check bad "mutant ${line#MISSED  }" ;;
  esac
done < <(grep -E '^(caught|MISSED) ' build/fuzz/mutants.log)
if ! grep -qE '^[0-9]+ passed, [0-9]+ failed$' build/fuzz/mutants.log; then
  check bad "the mutants could not be built or run (build/fuzz/mutants.log)"
  tail -20 build/fuzz/mutants.log
fi

echo "==> SQL fuzzer: $calls calls on a throwaway cluster"
if [ ! -e "$("$PG_CONFIG" --pkglibdir)/baseledger.so" ]; then
  check bad "SQL fuzzer: the extension is not installed (make && make install)"
else
  rc=0
  bash scripts/with-cluster.sh /usr/bin/python3 test/fuzz/sql_fuzz.py --calls "$calls" \
    ${strict:+--strict} --report build/fuzz/sql_fuzz.json >build/fuzz/sql_fuzz.log 2>&1 || rc=$?
  grep -E '^(sql_fuzz:|server log|calls|by |known issue|problems)' build/fuzz/sql_fuzz.log | cut -c1-400
  if [ "$rc" -eq 0 ] && grep -qE '^[0-9]+ passed, 0 failed$' build/fuzz/sql_fuzz.log; then
    check ok "SQL fuzzer: $(grep -m1 '^calls' build/fuzz/sql_fuzz.log), 0 problems"
  else
    check bad "SQL fuzzer found problems (build/fuzz/sql_fuzz.log)"
    grep -E '^(FAIL|      )' build/fuzz/sql_fuzz.log | head -30 | cut -c1-400
  fi
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
