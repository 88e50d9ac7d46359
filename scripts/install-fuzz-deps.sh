#!/usr/bin/env bash
# Install the Debian packages the fuzzing and memory-checking runs need, on
# top of scripts/install-deps.sh: clang-14 with its libFuzzer and sanitizer
# runtimes (libclang-rt-14-dev), valgrind, and psycopg 3 for the SQL fuzzer
# (run with /usr/bin/python3, Debian's interpreter, which sees the package).
# Idempotent: apt is only touched when something is missing.
set -euo pipefail

packages=(clang-14 libclang-rt-14-dev valgrind python3 python3-psycopg)

. "$(dirname "$0")/lib/ensure-packages.sh"
ensure_packages install-fuzz-deps "${packages[@]}"
