#!/usr/bin/env bash
# CI stage: the fleet workload (test/fleet/run.py) on a throwaway cluster.
# An org with 10 teams and 50 agents, capped well below what the agents try
# to spend, under 50 concurrent clients reserving and settling on their own
# agents; then, from the data: no capped wallet below zero available in any
# event, what the org spent = the sum over its teams = the sum over its
# agents, ledger_verify() clean, and refusals counted. Then 20 clients
# hammering one wallet with a limit of 50 requests a minute, for a few
# seconds in each of two calendar minutes: exactly 50 admitted in each.
# Needs Debian's python3-psycopg (installed when missing); takes under a
# minute. Each check counts as one test; ends with "N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
mkdir -p build
log=build/ci-fleet.log

rc=0
bash scripts/install-reliability-deps.sh || rc=$?
if [ "$rc" -ne 0 ]; then
  echo "0 passed, 1 failed"
  exit 1
fi

export PYTHONDONTWRITEBYTECODE=1
timeout 300 bash scripts/with-cluster.sh /usr/bin/python3 test/fleet/run.py "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}

counts=$(sed -nE 's/^([0-9]+) passed, ([0-9]+) failed$/\1 \2/p' "$log" | tail -1)
if [ -n "$counts" ]; then
  read -r passed failed <<<"$counts"
else
  passed=0
  failed=0
fi
# The run died before its summary, or timed out.
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
  failed=1
fi
echo "$passed passed, $failed failed"
[ "$rc" -eq 0 ] && [ "$failed" -eq 0 ]
