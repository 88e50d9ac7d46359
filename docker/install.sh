#!/usr/bin/env bash
# Installs baseledger and pg_cron into the machine's PostgreSQL 15: the only
# build step of docker/Dockerfile (RUN bash docker/install.sh, run as root from
# the repository's copy in the image), and run the same way by the CI stage
# scripts/ci-stages/docker.sh. It does what scripts/test.sh does before its
# tests: scripts/install-deps.sh (Debian's packages, only those missing:
# server headers, compilers, postgresql-15-cron...), then make and
# make install against PostgreSQL 15's pg_config.
set -euo pipefail

cd "$(dirname "$0")/.."

export PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  sudo=(sudo)
fi

bash scripts/install-deps.sh
make -j"$(nproc)"
"${sudo[@]}" make install

# What the image's server needs at run time.
test -e "$("$PG_CONFIG" --pkglibdir)/pg_cron.so"
test -e "$("$PG_CONFIG" --pkglibdir)/baseledger.so"
test -e "$("$PG_CONFIG" --sharedir)/extension/baseledger.control"
echo "docker/install.sh: baseledger $(sed -nE "s/^default_version = '(.*)'/\1/p" baseledger.control) and pg_cron installed"
