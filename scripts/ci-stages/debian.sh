#!/usr/bin/env bash
# CI stage: the Debian package (test/debian/run.sh). Builds
# postgresql-15-baseledger with dpkg-buildpackage and pg_buildext from a copy
# of the sources, installs it with dpkg -i in a private mount namespace (the
# machine's installation is left as it was), and runs CREATE EXTENSION and the
# regression, isolation and pgTAP suites against the installed files.
# Ends with "N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/../.."
mkdir -p build
log=build/ci-debian.log
timeout 900 bash test/debian/run.sh 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
counts=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1)
echo "${counts:-0 passed, 1 failed}"
exit "$rc"
