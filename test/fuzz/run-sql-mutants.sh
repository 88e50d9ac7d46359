#!/usr/bin/env bash
# Usage: test/fuzz/run-sql-mutants.sh MUTANT...
#
# For each test/fuzz/sql-mutants/MUTANT.sed: builds the extension with that
# planted bug (make -f fuzz.mk ext-mutant-MUTANT), serves it from a private
# server (test/fuzz/private-cluster.sh) and runs the SQL fuzzer against it
# (SQL_MUTANT_CALLS calls, default 5000, fixed seed), which must report the
# bug. Prints one line per mutant and "N passed, M failed".
set -uo pipefail

cd "$(dirname "$0")/../.."
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
calls=${SQL_MUTANT_CALLS:-5000}
passed=0
failed=0
for m in "$@"; do
  dir=build/fuzz/sqlmut-$m
  if ! make -s -f fuzz.mk "ext-mutant-$m" >"build/fuzz/sqlmut-$m.build.log" 2>&1; then
    echo "MISSED  $m: the mutant could not be built (build/fuzz/sqlmut-$m.build.log)"
    failed=$((failed + 1))
    continue
  fi
  rc=0
  bash test/fuzz/private-cluster.sh "$dir/stage" "/tmp/baseledger-sqlmut-$m" bash -c \
    '/usr/bin/python3 test/fuzz/sql_fuzz.py --calls '"$calls"' --seed 1 --log "$BASELEDGER_SERVER_LOG"' \
    >"$dir/sql_fuzz.log" 2>&1 || rc=$?
  first=$(grep -m1 '^FAIL' "$dir/sql_fuzz.log" | cut -c1-200)
  n=$(sed -nE 's/^problems: ([0-9]+)/\1/p' "$dir/sql_fuzz.log")
  if [ "$rc" -ne 0 ] && [ -n "$first" ]; then
    echo "caught  $m: ${n:-?} problems; first: $first"
    passed=$((passed + 1))
  else
    echo "MISSED  $m: the SQL fuzzer reported nothing (exit $rc; $dir/sql_fuzz.log)"
    failed=$((failed + 1))
  fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
