#!/usr/bin/env bash
# CI stage: the reliability workload, short. A 45-second randomized workload
# with 8 clients and 3 postmaster SIGKILLs (each followed by ledger_verify and
# the auditor), then the auditor's self-test against deliberately broken
# behaviour. Each audit check, each verify after a restart and each self-test
# assertion counts as one test. Full runs: test/reliability/README.md.
#
# RELIABILITY_ARGS adds options to both runs, e.g. "--ext-rev HEAD" to test a
# private build of the committed code on a machine where others install.
set -uo pipefail

cd "$(dirname "$0")/../.." || exit 1

mkdir -p build
passed=0
failed=0
status=0
read -r -a extra <<<"${RELIABILITY_ARGS:-}"

run() {
  local log rc counts ok bad
  log=$(mktemp)
  bash test/reliability/run.sh "$@" ${extra[@]+"${extra[@]}"} 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  counts=$(sed -nE 's/^([0-9]+) passed, ([0-9]+) failed$/\1 \2/p' "$log" | tail -1)
  rm -f "$log"
  if [ -n "$counts" ]; then
    read -r ok bad <<<"$counts"
  else
    ok=0
    bad=0
  fi
  if [ "$rc" -ne 0 ]; then
    status=1
    [ "$bad" -gt 0 ] || bad=1
  fi
  passed=$((passed + ok))
  failed=$((failed + bad))
}

run --duration 45 --clients 8 --crashes 3 --progress 15 --fsync on
run --self-test --clients 6

echo "$passed passed, $failed failed"
exit "$status"
