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

. "scripts/lib/ensure-packages.sh"
ensure_packages install-packaging-deps "${packages[@]}"
