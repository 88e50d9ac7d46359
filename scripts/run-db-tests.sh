#!/usr/bin/env bash
# Runs the database test suites against an existing server: meant to run
# inside scripts/with-cluster.sh, which sets PGHOST/PGPORT/PGUSER/PGPASSWORD
# and provides database baseledger_test with pg_cron installed.
#
#   a) pg_regress:           sql/*.sql (not sql/baseledger--*) vs expected/*.out
#   b) pg_isolation_regress: test/isolation/specs/*.spec
#   c) pg_prove:             test/pgtap/*.sql
#
# All suites share database baseledger_test, which is neither created nor
# dropped here (--use-existing): each test creates the extension itself.
# Every suite runs even if an earlier one failed; the script fails if any did
# and ends with a line "N passed, M failed" counting individual tests.
set -euo pipefail

cd "$(dirname "$0")/.."

db=baseledger_test
pg_config=${PG_CONFIG:-pg_config}
pgxs_dir=$(dirname "$("$pg_config" --pgxs)")/../..
pg_regress=$pgxs_dir/src/test/regress/pg_regress
pg_isolation_regress=$pgxs_dir/src/test/isolation/pg_isolation_regress
bindir=$("$pg_config" --bindir)

passed=0
failed=0
suites_failed=()

# Adds the per-test results of a pg_regress-style log ("test x ... ok",
# "x ... FAILED") to the totals.
count_regress_log() {
  local log=$1 ok bad
  ok=$(grep -cE '^(test )? *[^ ]+ +\.\.\. ok( |$)' "$log" || true)
  bad=$(grep -cE '^(test )? *[^ ]+ +\.\.\. (FAILED|failed)( |$)' "$log" || true)
  passed=$((passed + ok))
  failed=$((failed + bad))
}

# Runs a pg_regress-style driver; on failure shows what differed.
run_regress_suite() {
  local name=$1 outdir=$2 rc=0
  shift 2
  rm -rf "$outdir"
  mkdir -p "$outdir"
  "$@" 2>&1 | tee "$outdir/run.log" || rc=$?
  count_regress_log "$outdir/run.log"
  if [ "$rc" -ne 0 ]; then
    suites_failed+=("$name")
    # A driver that died before running anything still counts as a failure.
    if ! grep -qE '\.\.\. (FAILED|failed)' "$outdir/run.log"; then
      failed=$((failed + 1))
    fi
    if [ -s "$outdir/regression.diffs" ]; then
      echo "---- $outdir/regression.diffs ----"
      cat "$outdir/regression.diffs"
      echo "---- end of $outdir/regression.diffs ----"
    fi
  fi
}

# Test names: sorted basenames, the way the Makefile's REGRESS_TESTS is built.
list_tests() {
  local dir=$1 ext=$2 exclude=$3 f base
  for f in "$dir"/*."$ext"; do
    [ -e "$f" ] || continue
    base=$(basename "$f" ."$ext")
    if [ -n "$exclude" ] && [[ $base == $exclude ]]; then
      continue
    fi
    echo "$base"
  done | LC_ALL=C sort
}

# ---- a) regression tests ----
mapfile -t regress_tests < <(list_tests sql sql 'baseledger--*')
echo "==> regression tests (${#regress_tests[@]})"
if [ ${#regress_tests[@]} -eq 0 ]; then
  echo "no regression tests in sql/, skipped"
else
  run_regress_suite regress build/regress \
    "$pg_regress" --use-existing --dbname="$db" --bindir="$bindir" \
    --inputdir=. --outputdir=build/regress "${regress_tests[@]}"
fi

# ---- b) isolation tests ----
mapfile -t isolation_tests < <(list_tests test/isolation/specs spec '')
echo "==> isolation tests (${#isolation_tests[@]})"
if [ ${#isolation_tests[@]} -eq 0 ]; then
  echo "no isolation specs in test/isolation/specs, skipped"
else
  run_regress_suite isolation build/isolation \
    "$pg_isolation_regress" --use-existing --dbname="$db" --bindir="$bindir" \
    --inputdir=test/isolation --outputdir=build/isolation "${isolation_tests[@]}"
fi

# ---- c) pgTAP tests ----
# The runner installs pgTAP (in schema public) once, so test files only
# BEGIN; SELECT plan(n); ...; ROLLBACK; and need no CREATE EXTENSION pgtap.
mapfile -t pgtap_files < <(list_tests test/pgtap sql '' | sed 's|^|test/pgtap/|; s|$|.sql|')
echo "==> pgTAP tests (${#pgtap_files[@]} files)"
if [ ${#pgtap_files[@]} -eq 0 ]; then
  echo "no pgTAP tests in test/pgtap, skipped"
else
  mkdir -p build
  rc=0
  psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c 'CREATE EXTENSION IF NOT EXISTS pgtap' || rc=$?
  if [ "$rc" -eq 0 ]; then
    pg_prove -d "$db" "${pgtap_files[@]}" 2>&1 | tee build/pgtap.log || rc=$?
    # prove's summary: "Files=2, Tests=17, ..." and, per failing file,
    # "file.sql (Wstat: 0 Tests: 5 Failed: 2)". A file that died or had a bad
    # plan shows "Failed: 0": count it as one failure.
    total=$(sed -nE 's/^Files=[0-9]+, Tests=([0-9]+),.*/\1/p' build/pgtap.log | tail -1)
    read -r bad died < <(
      sed -nE 's/.*\(Wstat: .* Tests: [0-9]+ Failed: ([0-9]+)\)$/\1/p' build/pgtap.log |
        awk '{ if ($1 > 0) f += $1; else d++ } END { print f + 0, d + 0 }')
    total=${total:-0}
    passed=$((passed + total - bad))
    bad=$((bad + died))
    failed=$((failed + bad))
  fi
  if [ "$rc" -ne 0 ]; then
    suites_failed+=(pgtap)
    # pgTAP could not be installed or pg_prove failed before any file ran.
    if [ "${bad:-0}" -eq 0 ]; then
      failed=$((failed + 1))
    fi
  fi
fi

echo
if [ ${#suites_failed[@]} -gt 0 ]; then
  echo "failed suites: ${suites_failed[*]}"
fi
echo "$passed passed, $failed failed"
[ ${#suites_failed[@]} -eq 0 ]
