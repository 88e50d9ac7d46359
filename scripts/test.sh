#!/usr/bin/env bash
# The project's test command: bash scripts/test.sh
#
# Installs what is missing, builds and installs the extension, then runs the
# unit tests of the core, the formatting check and every database suite on a
# throwaway cluster. A build failure stops at once; test stages all run so one
# log shows every failure. Ends with "N passed, M failed" over all tests and
# exits non-zero if anything failed.
set -euo pipefail

cd "$(dirname "$0")/.."

# Pin the server version: /usr/bin/pg_config follows the newest server-dev.
export PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  sudo=(sudo)
fi

echo "==> dependencies"
bash scripts/install-deps.sh

echo "==> build"
make -j2
"${sudo[@]}" make install

mkdir -p build
passed=0
failed=0
stages_failed=()

echo "==> unit tests"
rc=0
make unit 2>&1 | tee build/unit.log || rc=$?
# GoogleTest's closing lines: "[  PASSED  ] 12 tests." and
# "[  FAILED  ] 2 tests, listed below:".
unit_ok=$(sed -nE 's/^\[  PASSED  \] ([0-9]+) tests?\..*/\1/p' build/unit.log | tail -1)
unit_bad=$(sed -nE 's/^\[  FAILED  \] ([0-9]+) tests?, listed below.*/\1/p' build/unit.log | tail -1)
unit_ok=${unit_ok:-0}
unit_bad=${unit_bad:-0}
if [ "$rc" -ne 0 ]; then
  stages_failed+=(unit)
  # The unit binary failed to build or crashed before its summary.
  [ "$unit_bad" -gt 0 ] || unit_bad=1
fi
passed=$((passed + unit_ok))
failed=$((failed + unit_bad))

echo "==> format check"
if command -v clang-format >/dev/null; then
  if make check-format; then
    passed=$((passed + 1))
  else
    stages_failed+=(format)
    failed=$((failed + 1))
  fi
else
  echo "clang-format not installed, format check skipped"
fi

echo "==> database tests"
rc=0
bash scripts/with-cluster.sh scripts/run-db-tests.sh 2>&1 | tee build/db-tests.log || rc=$?
db_counts=$(sed -nE 's/^([0-9]+) passed, ([0-9]+) failed$/\1 \2/p' build/db-tests.log | tail -1)
if [ -n "$db_counts" ]; then
  read -r db_ok db_bad <<<"$db_counts"
else
  db_ok=0
  db_bad=0
fi
if [ "$rc" -ne 0 ]; then
  stages_failed+=(database)
  # The cluster could not be set up, or the runner died before its summary.
  [ "$db_bad" -gt 0 ] || db_bad=1
fi
passed=$((passed + db_ok))
failed=$((failed + db_bad))

# Further stages (reliability, fuzzing, sanitizers, benchmarks' smoke runs):
# each scripts/ci-stages/NAME.sh runs on its own, bounded to a few minutes,
# and ends with its own "N passed, M failed" line.
for stage in scripts/ci-stages/*.sh; do
  [ -e "$stage" ] || continue
  name=$(basename "$stage" .sh)
  echo "==> $name"
  rc=0
  bash "$stage" 2>&1 | tee "build/$name.log" || rc=$?
  counts=$(sed -nE 's/^([0-9]+) passed, ([0-9]+) failed$/\1 \2/p' "build/$name.log" | tail -1)
  if [ -n "$counts" ]; then
    read -r ok bad <<<"$counts"
  else
    ok=0
    bad=0
  fi
  if [ "$rc" -ne 0 ]; then
    stages_failed+=("$name")
    [ "$bad" -gt 0 ] || bad=1
  fi
  passed=$((passed + ok))
  failed=$((failed + bad))
done

echo
if [ ${#stages_failed[@]} -gt 0 ]; then
  echo "failed stages: ${stages_failed[*]}"
fi
echo "$passed passed, $failed failed"
[ ${#stages_failed[@]} -eq 0 ]
