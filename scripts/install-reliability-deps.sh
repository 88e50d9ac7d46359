#!/usr/bin/env bash
# Installs what the reliability workload (test/reliability/) needs beyond
# scripts/install-deps.sh: psycopg 3 for the system Python, from Debian.
# Idempotent: apt is only touched when the package is missing.
set -euo pipefail

packages=(python3 python3-psycopg)

. "$(dirname "$0")/lib/ensure-packages.sh"
ensure_packages install-reliability-deps "${packages[@]}"
