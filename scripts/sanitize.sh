#!/usr/bin/env bash
# The regression suite against the extension built with
# -fsanitize=address,undefined:  bash scripts/sanitize.sh [--sql-calls N]
#
# Builds the instrumented extension in a copy of the tree (make -f fuzz.mk
# ext-asan) and runs it on a private throwaway server
# (test/fuzz/private-cluster.sh): the system's installed build is never
# replaced, so other test runs on the machine are unaffected. The server runs
# the pg_regress suite (sql/*.sql vs expected/*.out) and, with --sql-calls N,
# N calls of the SQL fuzzer. Clean means: no AddressSanitizer or
# UndefinedBehaviorSanitizer report, no backend that died, and the runtimes
# really loaded in the backends. The suite's own pass/fail is printed too, but
# judged by the database stage of scripts/test.sh, not here.
# Ends with "N passed, M failed" over those checks.
set -euo pipefail

cd "$(dirname "$0")/.."
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}

sql_calls=0
if [ "${1:-}" = --sql-calls ]; then
  sql_calls=$2
fi

bash scripts/install-fuzz-deps.sh >/dev/null
reports=/tmp/baseledger-sanitizer-reports
work=/tmp/baseledger-asan-server
echo "==> building the instrumented extension (build/fuzz/asan)"
make -s -f fuzz.mk ext-asan SANITIZER_LOG_DIR=$reports >build/fuzz-asan-build.log 2>&1 || {
  tail -30 build/fuzz-asan-build.log
  echo "0 passed, 1 failed"
  exit 1
}
rm -rf "$reports"
mkdir -p "$reports"
chmod 1777 "$reports"

# Runs inside the private server: the suite from the build copy (its outputs
# stay there), a probe that the runtimes are mapped into a backend that ran
# ledger code, and optionally the SQL fuzzer.
cat >build/fuzz/asan/inside.sh <<'EOF'
set -uo pipefail
tree=build/fuzz/asan/tree
rc=0
(cd "$tree" && rm -rf build && mkdir -p build &&
  pg_regress=$(dirname "$("$PG_CONFIG" --pgxs)")/../../src/test/regress/pg_regress &&
  mapfile -t tests < <(ls sql/*.sql | sed 's|sql/||; s|\.sql$||' | grep -v '^baseledger--' | LC_ALL=C sort) &&
  "$pg_regress" --use-existing --dbname="$PGDATABASE" --bindir="$("$PG_CONFIG" --bindir)" \
    --inputdir=. --outputdir=build/regress "${tests[@]}") >build/fuzz/asan/regress.log 2>&1 || rc=$?
tail -3 build/fuzz/asan/regress.log
echo "regress-exit $rc" >build/fuzz/asan/regress.status
psql -X -q -At -c "SET client_min_messages = warning" -c "CREATE EXTENSION IF NOT EXISTS baseledger" \
  -c "SELECT count(*) FROM ledger.ledger_verify()" -c "SELECT pg_backend_pid()" \
  -c "SELECT pg_sleep(0.2)" >build/fuzz/asan/probe.out 2>&1 &
sleep 0.1
pid=$(psql -X -At -c "SELECT pid FROM pg_stat_activity WHERE query LIKE '%pg_sleep(0.2)%' AND pid <> pg_backend_pid() LIMIT 1")
if [ -n "$pid" ] && grep -q libasan "/proc/$pid/maps" && grep -q libubsan "/proc/$pid/maps"; then
  echo probe-ok >build/fuzz/asan/probe.status
else
  echo probe-failed >build/fuzz/asan/probe.status
fi
wait
if [ "${SQL_CALLS:-0}" -gt 0 ]; then
  /usr/bin/python3 test/fuzz/sql_fuzz.py --calls "$SQL_CALLS" --log "$BASELEDGER_SERVER_LOG" \
    >build/fuzz/asan/sql_fuzz.log 2>&1 || true
  grep -E '^(calls|problems|[0-9]+ passed)' build/fuzz/asan/sql_fuzz.log
fi
exit 0
EOF

echo "==> regression suite on a private server with the instrumented build"
SQL_CALLS=$sql_calls bash test/fuzz/private-cluster.sh build/fuzz/asan/stage "$work" \
  bash build/fuzz/asan/inside.sh

passed=0
failed=0
check() {
  if [ "$1" = ok ]; then
    passed=$((passed + 1))
    echo "ok      $2"
  else
    failed=$((failed + 1))
    echo "FAILED  $2"
  fi
}

log=$work/server.log
n_reports=$(find "$reports" -type f | wc -l)
if [ "$n_reports" -eq 0 ] && ! grep -qE 'AddressSanitizer|runtime error:' "$log"; then
  check ok "no AddressSanitizer or UndefinedBehaviorSanitizer report"
else
  check bad "sanitizer reports: $n_reports files in $reports"
  for f in "$reports"/*; do [ -f "$f" ] && head -40 "$f"; done
  grep -E -A20 'AddressSanitizer|runtime error:' "$log" | head -60
fi
if grep -qE 'terminated by signal|server process .* exited with|PANIC:|TRAP:' "$log"; then
  check bad "a backend died (see $log)"
  grep -E 'terminated by signal|server process .* exited with|PANIC:|TRAP:' "$log" | head
else
  check ok "no backend crashed"
fi
[ "$(cat build/fuzz/asan/probe.status 2>/dev/null)" = probe-ok ] &&
  check ok "libasan and libubsan were mapped into a backend running ledger code" ||
  check bad "the sanitizer runtimes were not found in a backend"
if grep -q '^regress-exit' build/fuzz/asan/regress.status 2>/dev/null &&
  grep -qE '^(test )? *[^ ]+ +\.\.\. (ok|FAILED|failed)' build/fuzz/asan/regress.log; then
  check ok "the regression suite ran ($(grep -cE '\.\.\. ok' build/fuzz/asan/regress.log) ok, $(grep -cE '\.\.\. (FAILED|failed)' build/fuzz/asan/regress.log) failed: see build/fuzz/asan/regress.log)"
else
  check bad "the regression suite did not run (build/fuzz/asan/regress.log)"
fi
if [ "$sql_calls" -gt 0 ]; then
  if grep -qE '^[0-9]+ passed, 0 failed$' build/fuzz/asan/sql_fuzz.log; then
    check ok "SQL fuzzer: $(grep '^calls' build/fuzz/asan/sql_fuzz.log)"
  else
    check bad "SQL fuzzer found problems (build/fuzz/asan/sql_fuzz.log)"
    grep -E '^FAIL' build/fuzz/asan/sql_fuzz.log | head
  fi
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
