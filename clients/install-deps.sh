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

missing=()
for pkg in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  if [ "$status" != "installed" ]; then
    missing+=("$pkg")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "clients/install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  sudo=(sudo)
fi
echo "clients/install-deps: installing ${missing[*]}"
"${sudo[@]}" apt-get update
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y --no-install-recommends "${missing[@]}"
