#!/usr/bin/env bash
# Install the Debian packages the fuzzing and memory-checking runs need, on
# top of scripts/install-deps.sh: clang-14 with its libFuzzer and sanitizer
# runtimes (libclang-rt-14-dev), valgrind, and psycopg 3 for the SQL fuzzer
# (run with /usr/bin/python3, Debian's interpreter, which sees the package).
# Idempotent: apt is only touched when something is missing.
set -euo pipefail

packages=(clang-14 libclang-rt-14-dev valgrind python3 python3-psycopg)

missing=()
for pkg in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  if [ "$status" != "installed" ]; then
    missing+=("$pkg")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-fuzz-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  sudo=(sudo)
fi

echo "install-fuzz-deps: installing ${missing[*]}"
"${sudo[@]}" apt-get update
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y --no-install-recommends "${missing[@]}"
