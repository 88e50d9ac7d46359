#!/usr/bin/env bash
# The regression suite with the server under valgrind's memcheck:
#   bash scripts/valgrind.sh
#
# Builds the extension as usual but in a copy of the tree (make -f fuzz.mk
# ext-plain), and runs the pg_regress suite (sql/*.sql vs expected/*.out) on a
# private throwaway server (test/fuzz/private-cluster.sh) whose postmaster and
# every backend run under
#   valgrind --tool=memcheck --trace-children=yes --leak-check=no
#            --suppressions=test/fuzz/valgrind.supp
# Clean means: no memcheck error with a baseledger.so frame in its stack, and
# no backend that died. Errors inside PostgreSQL alone are counted and shown,
# not failed (the Debian server is not built for valgrind). Slow: minutes.
# Ends with "N passed, M failed" over those checks.
set -euo pipefail

cd "$(dirname "$0")/.."
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
bash scripts/install-fuzz-deps.sh >/dev/null

# --mutant NAME: serve the build with test/fuzz/memory-mutants/NAME.sed
# planted instead, to show that a memory error in our code is caught.
copy=build/fuzz/plain
target=ext-plain
if [ "${1:-}" = --mutant ]; then
  copy=build/fuzz/sqlmut-$2
  target=ext-mutant-$2
fi
echo "==> building the extension in $copy"
make -s -f fuzz.mk "$target" >build/fuzz-plain-build.log 2>&1 || {
  tail -30 build/fuzz-plain-build.log
  echo "0 passed, 1 failed"
  exit 1
}
vglogs=/tmp/baseledger-valgrind-logs
rm -rf "$vglogs"
mkdir -p "$vglogs"
chmod 1777 "$vglogs"
work=/tmp/baseledger-valgrind-server

mkdir -p build/fuzz/plain
cat >build/fuzz/plain/inside.sh <<'EOS'
set -uo pipefail
tree=$TREE_COPY/tree
rc=0
(cd "$tree" && rm -rf build && mkdir -p build &&
  pg_regress=$(dirname "$("$PG_CONFIG" --pgxs)")/../../src/test/regress/pg_regress &&
  mapfile -t tests < <(ls sql/*.sql | sed 's|sql/||; s|\.sql$||' | grep -v '^baseledger--' | LC_ALL=C sort) &&
  "$pg_regress" --use-existing --dbname="$PGDATABASE" --bindir="$("$PG_CONFIG" --bindir)" \
    --inputdir=. --outputdir=build/regress "${tests[@]}") >build/fuzz/plain/regress.log 2>&1 || rc=$?
tail -3 build/fuzz/plain/regress.log
echo "regress-exit $rc" >build/fuzz/plain/regress.status
exit 0
EOS

echo "==> regression suite on a private server under valgrind (slow)"
SECONDS=0
SERVER_WRAPPER="valgrind --tool=memcheck --trace-children=yes --leak-check=no --error-limit=no \
--num-callers=40 --read-var-info=no --suppressions=$PWD/test/fuzz/valgrind.supp \
--log-file=$vglogs/vg.%p.log" START_TIMEOUT=300 TREE_COPY=$copy \
  bash test/fuzz/private-cluster.sh "$copy/stage" "$work" bash build/fuzz/plain/inside.sh
echo "(${SECONDS}s with the server under valgrind)"

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

# Split every log into its error records (blocks starting with "==PID== X")
# and classify each by whether its stack has a frame of our code: with debug
# information a frame shows its function and source line (baseledger::...,
# file.cpp:N; PostgreSQL and glibc are C), without it the object baseledger.so.
read -r ours theirs < <(awk '
  /^==[0-9]+== [A-Z][a-z]/ && !/^==[0-9]+== (Memcheck|Copyright|Using Valgrind|Command|Parent PID|HEAP|LEAK|ERROR SUMMARY|For |Use --|Rerun|All heap|Warning|Note|Process terminating|in use at exit|total heap usage)/ {
    if (inrec) { if (hit) o++; else t++ }
    inrec = 1; hit = 0; next
  }
  /^==[0-9]+== *$/ { if (inrec) { if (hit) o++; else t++ }; inrec = 0; next }
  inrec && (/baseledger\.so|baseledger::/ || /\.(cpp|hpp):[0-9]+\)/) { hit = 1 }
  END { if (inrec) { if (hit) o++; else t++ }; print o + 0, t + 0 }' "$vglogs"/vg.*.log)
nlogs=$(ls "$vglogs"/vg.*.log | wc -l)
echo "memcheck: $nlogs process logs; errors with a frame of our code: $ours; errors in PostgreSQL alone: $theirs"
if [ "$ours" -eq 0 ]; then
  check ok "no memcheck error in our code"
else
  check bad "memcheck errors in our code (logs in $vglogs)"
  grep -lE 'baseledger::|\.cpp:[0-9]+\)' "$vglogs"/vg.*.log | head -2 | xargs -r grep -m2 -A30 -E '^==[0-9]+== (Invalid|Conditional|Use of|Syscall|Mismatched|Source)' | head -80
fi
if grep -qE 'terminated by signal|server process .* exited with|PANIC:|TRAP:' "$work/server.log"; then
  check bad "a backend died (see $work/server.log)"
else
  check ok "no backend crashed"
fi
if grep -qE '^(test )? *[^ ]+ +\.\.\. (ok|FAILED|failed)' build/fuzz/plain/regress.log; then
  check ok "the regression suite ran under valgrind ($(grep -cE '\.\.\. ok' build/fuzz/plain/regress.log) ok, $(grep -cE '\.\.\. (FAILED|failed)' build/fuzz/plain/regress.log) failed: see build/fuzz/plain/regress.log)"
else
  check bad "the regression suite did not run (build/fuzz/plain/regress.log)"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
