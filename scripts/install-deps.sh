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

. "$(dirname "$0")/lib/ensure-packages.sh"
ensure_packages install-deps "${packages[@]}"
