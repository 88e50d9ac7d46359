#!/usr/bin/env bash
# CI stage: the release metadata (test/release/check.py): META.json is a valid
# PGXN description, and it, debian/changelog, CHANGELOG.md, the Node.js
# client's package.json and the image tag all name baseledger.control's
# default_version. Ends with "N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/../.."
if ! bash scripts/install-packaging-deps.sh >/dev/null; then
  echo "0 passed, 1 failed"
  exit 1
fi
/usr/bin/python3 test/release/check.py
