#!/usr/bin/env bash
# CI stage: dump and restore (test/dump_restore/run.sh) on a throwaway cluster:
# pg_dump and pg_restore of a filled ledger, with and without pg_cron, into
# new databases that must hold the same money, holds and history and pass
# ledger_verify(). Ends with "N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/../.."
mkdir -p build
log=build/ci-dump-restore.log
timeout 600 bash scripts/with-cluster.sh bash test/dump_restore/run.sh 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
counts=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1)
echo "${counts:-0 passed, 1 failed}"
exit "$rc"
