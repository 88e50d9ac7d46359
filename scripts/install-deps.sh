#!/usr/bin/env bash
# Install the Debian packages needed to build baseledger and run all its tests.
# Idempotent: apt is only touched when something is missing, so a warm machine
# starts its test run at once and a fresh one (or CI) gets everything it needs.
set -euo pipefail

packages=(
  # Server, PGXS headers and build tooling. PGXS compiles the module to LLVM
  # bitcode with /usr/bin/clang-14 and indexes it with llvm-lto from
  # /usr/lib/llvm-14/bin during `make install`.
  postgresql-15 postgresql-server-dev-15 postgresql-common
  g++ make clang-14 llvm-14 llvm-14-dev
  libssl-dev
  # Scheduler the extension hooks into, and the pgTAP test stack (pg_prove).
  postgresql-15-cron postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl
  # Unit tests of the core and the formatting check.
  libgtest-dev clang-format
)

missing=()
for pkg in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  if [ "$status" != "installed" ]; then
    missing+=("$pkg")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

# CI runs as root; a developer account goes through sudo.
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  sudo=(sudo)
fi

echo "install-deps: installing ${missing[*]}"
"${sudo[@]}" apt-get update
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y --no-install-recommends "${missing[@]}"
