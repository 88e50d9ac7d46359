#!/usr/bin/env bash
# CI stage: the PL/Proxy router (router/), short. Installs PL/Proxy when
# missing, builds and installs the router extension (baseledger itself was
# installed by scripts/test.sh), then runs test/router/run.sh --quick on a
# router and four throwaway shard servers: the regression cases through the
# router and directly, the fault test (a shard stopped mid-run), the
# partition split, and a benchmark smoke run whose figures are not judged.
# Every shard's ledger_verify() is checked after each stage. Takes about two
# minutes. Ends with "N passed, M failed". Full runs: router/README.md.
#
# ROUTER_ARGS adds options, e.g. "--ext-rev HEAD" to test a private build of
# the committed code on a machine where others install.
set -uo pipefail

cd "$(dirname "$0")/../.."

read -r -a extra <<<"${ROUTER_ARGS:-}"
log=$(mktemp)
# Bounded only against a hang.
timeout 600 bash test/router/run.sh --quick --stages regress,fault,split,bench \
  ${extra[@]+"${extra[@]}"} 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
counts=$(sed -nE 's/^([0-9]+) passed, ([0-9]+) failed$/\1 \2/p' "$log" | tail -1)
rm -f "$log"
if [ -n "$counts" ]; then
  read -r ok bad <<<"$counts"
else
  ok=0
  bad=0
fi
if [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ]; then
  echo "FAIL test/router/run.sh exited with status $rc"
  bad=1
fi
echo "$ok passed, $bad failed"
[ "$bad" -eq 0 ]
