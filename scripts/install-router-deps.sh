#!/usr/bin/env bash
# Installs what the PL/Proxy router (router/) and its tests need beyond
# scripts/install-deps.sh: PL/Proxy for PostgreSQL 15 from Debian, and psycopg
# 3 for the system Python (the router's reliability check and benchmark).
# Idempotent: apt is only touched when a package is missing.
set -euo pipefail

packages=(postgresql-15-plproxy python3 python3-psycopg)

. "$(dirname "$0")/lib/ensure-packages.sh"
ensure_packages install-router-deps "${packages[@]}"
