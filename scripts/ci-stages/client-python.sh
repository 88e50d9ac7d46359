#!/usr/bin/env bash
# CI stage: the Python client (clients/python) against a real server. Installs
# Debian's python3-psycopg and python3-pytest when missing, then runs its
# pytest suite with /usr/bin/python3 (the interpreter those packages serve,
# whatever python3 comes first on PATH) on a throwaway cluster: typed errors,
# the hold (settle, cancel, partial billing), the heartbeat, retries after a
# killed connection and after a lost reply, and the fleet example.
# Ends with "N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/../.."
mkdir -p build
log=build/ci-client-python.log

rc=0
bash clients/install-deps.sh || rc=$?
if [ "$rc" -ne 0 ]; then
  echo "0 passed, 1 failed"
  exit 1
fi

export PYTHONDONTWRITEBYTECODE=1
timeout 600 bash scripts/with-cluster.sh \
  /usr/bin/python3 -m pytest -v -p no:cacheprovider clients/python/tests 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}

# pytest's closing line: "== 16 passed, 1 failed, 2 errors in 6.2s ==".
summary=$(grep -E '[0-9]+ (passed|failed|errors?).* in [0-9.]+s' "$log" | tail -1)
passed=$(grep -oE '[0-9]+ passed' <<<"$summary" | cut -d' ' -f1)
failed=$(grep -oE '[0-9]+ failed' <<<"$summary" | cut -d' ' -f1)
errors=$(grep -oE '[0-9]+ errors?' <<<"$summary" | cut -d' ' -f1)
passed=${passed:-0}
failed=$((${failed:-0} + ${errors:-0}))
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
  failed=1
fi
echo "$passed passed, $failed failed"
exit "$rc"
