#!/usr/bin/env bash
# Install what the packaging checks need, from Debian's packages, only when
# missing: debhelper, dpkg-dev and fakeroot for dpkg-buildpackage,
# postgresql-server-dev-all for pg_buildext and its debhelper sequence
# (test/debian), and PyYAML for reading docker/compose.yaml (the docker and
# release-metadata stages). The package's own Build-Depends (server headers,
# libssl-dev, clang) are those of scripts/install-deps.sh, which runs first.
set -euo pipefail

cd "$(dirname "$0")/.."
bash scripts/install-deps.sh

packages=(debhelper dpkg-dev fakeroot postgresql-server-dev-all build-essential python3-yaml)
missing=()
for pkg in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  if [ "$status" != "installed" ]; then
    missing+=("$pkg")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-packaging-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  sudo=(sudo)
fi
echo "install-packaging-deps: installing ${missing[*]}"
"${sudo[@]}" apt-get update
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y --no-install-recommends "${missing[@]}"
