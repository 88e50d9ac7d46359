#!/usr/bin/env bash
# Install what the client libraries' tests need, from Debian's packages, only
# when missing: psycopg 3 and pytest for /usr/bin/python3, and Node.js with
# npm (a machine that already has a node on PATH keeps it). The Node.js
# library's own dependency, pg, comes from the npm registry through
# clients/node/package-lock.json (npm ci).
set -euo pipefail

packages=(python3 python3-psycopg python3-pytest)
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  packages+=(nodejs npm)
fi

. "$(dirname "$0")/../scripts/lib/ensure-packages.sh"
ensure_packages clients/install-deps "${packages[@]}"
