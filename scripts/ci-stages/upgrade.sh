#!/usr/bin/env bash
# CI stage: the upgrade test (test/upgrade/run.sh) on a throwaway cluster:
# released install scripts unchanged, oldest release -> ALTER EXTENSION UPDATE
# step by step with the ledger intact, and the upgraded schema equal to a
# fresh install (pg_dump --schema-only). Ends with "N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/../.."
mkdir -p build
log=build/ci-upgrade.log
timeout 600 bash scripts/with-cluster.sh bash test/upgrade/run.sh 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
counts=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1)
echo "${counts:-0 passed, 1 failed}"
exit "$rc"
