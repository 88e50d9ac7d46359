# Helpers for the shell-driven database tests (test/upgrade, test/dump_restore,
# test/debian, docker): each check prints "ok - NAME" or "not ok - NAME" with
# what differed, and summary prints the closing "N passed, M failed" line.
# Source it; the scripts run inside scripts/with-cluster.sh (PG* variables set).

passed=0
failed=0

ok() {
  echo "ok - $1"
  passed=$((passed + 1))
}

not_ok() {
  echo "not ok - $1"
  if [ -n "${2:-}" ]; then
    sed 's/^/    /' <<<"$2"
  fi
  failed=$((failed + 1))
}

# expect_eq NAME EXPECTED ACTUAL
expect_eq() {
  if [ "$2" == "$3" ]; then
    ok "$1"
  else
    not_ok "$1" "expected: $2
got:      $3"
  fi
}

# expect_ok NAME CMD...: the command succeeds (its output is shown when not).
expect_ok() {
  local name=$1 out rc=0
  shift
  out=$("$@" 2>&1) || rc=$?
  if [ "$rc" -eq 0 ]; then
    ok "$name"
  else
    not_ok "$name" "exit status $rc:
$out"
  fi
}

# q [psql options] -c SQL: one query, unaligned, tuples only, stop on error.
q() {
  psql -X -q -At -v ON_ERROR_STOP=1 "$@"
}

summary() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}
