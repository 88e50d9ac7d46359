#!/usr/bin/env bash
# Installs what the PL/Proxy router (router/) and its tests need beyond
# scripts/install-deps.sh: PL/Proxy for PostgreSQL 15 from Debian, and psycopg
# 3 for the system Python (the router's reliability check and benchmark).
# Idempotent: apt is only touched when a package is missing.
set -euo pipefail

packages=(postgresql-15-plproxy python3 python3-psycopg)

missing=()
for pkg in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  if [ "$status" != "installed" ]; then
    missing+=("$pkg")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-router-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  sudo=(sudo)
fi

echo "install-router-deps: installing ${missing[*]}"
"${sudo[@]}" apt-get update
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y --no-install-recommends "${missing[@]}"
