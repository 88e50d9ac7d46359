#!/usr/bin/env bash
# CI stage: the Node.js client (clients/node) against a real server. Installs
# Node.js when missing (clients/install-deps.sh), pg from the lock file
# (npm ci), then runs its tests with node's built-in runner on a throwaway
# cluster: typed errors, the hold (settle, cancel, partial billing), the
# heartbeat, retries after a killed connection and after a lost reply, and
# the fleet example. Ends with "N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/../.."
mkdir -p build
log=build/ci-client-node.log

rc=0
bash clients/install-deps.sh || rc=$?
if [ "$rc" -eq 0 ]; then
  (cd clients/node && npm ci --no-audit --no-fund) || rc=$?
fi
if [ "$rc" -ne 0 ]; then
  echo "0 passed, 1 failed"
  exit 1
fi

timeout 600 bash scripts/with-cluster.sh \
  bash -c 'cd clients/node && node --test test/*.test.js' 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}

# node --test closes with "# pass 17" and "# fail 1".
passed=$(sed -nE 's/^# pass ([0-9]+)$/\1/p' "$log" | tail -1)
failed=$(sed -nE 's/^# fail ([0-9]+)$/\1/p' "$log" | tail -1)
passed=${passed:-0}
failed=${failed:-0}
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
  failed=1
fi
echo "$passed passed, $failed failed"
exit "$rc"
