#!/usr/bin/env bash
# Usage: bash test/router/run.sh [--quick] [--stages regress,reliability,fault,bench]
#                                [--ext-rev REV] [--keep] [--out DIR] [bench options]
#
# The PL/Proxy router's tests: installs PL/Proxy when missing, builds and
# installs the router extension (router/), then runs test/router/run.py: a
# router and four shard servers on loopback ports in a temporary directory,
# the regression cases through the router, the reliability workload and its
# auditor through the router, the fault test (a shard stopped mid-run) and the
# benchmark, with every shard's ledger_verify() checked after each stage. Ends
# with "N passed, M failed". See router/README.md.
#
# By default the shards use the baseledger installed in the server's
# directories (scripts/test.sh installs it before its stages run). --ext-rev
# REV instead builds the committed revision REV of baseledger, and the router
# extension of the working tree, into build/router-ext/ and points every
# server at that private copy (extension_destdir), so that a run is not
# disturbed by another `make install` on the same machine.
set -euo pipefail

cd "$(dirname "$0")/../.."

export PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)

ext_rev=
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --ext-rev) ext_rev=$2; shift ;;
    --ext-rev=*) ext_rev=${1#--ext-rev=} ;;
    *) args+=("$1") ;;
  esac
  shift
done

bash scripts/install-router-deps.sh >&2

if [ -n "$ext_rev" ]; then
  rev=$(git rev-parse --short "$ext_rev^{commit}")
  dir=$PWD/build/router-ext/$rev
  if [ ! -e "$dir/root/usr/lib/postgresql/15/lib/baseledger.so" ]; then
    rm -rf "$dir"
    mkdir -p "$dir/src"
    git archive "$rev" | tar -x -C "$dir/src"
    echo "building baseledger $rev into $dir (log: $dir/build.log)" >&2
    { make -C "$dir/src" -j2 && make -C "$dir/src" install DESTDIR="$dir/root"; } \
      >"$dir/build.log" 2>&1 || { tail -30 "$dir/build.log" >&2; exit 1; }
  fi
  make -s -C router install DESTDIR="$dir/root" >&2
  # The servers run as postgres when we are root: they must read the copy.
  chmod -R a+rX "$dir"
  args+=(--ext-root "$dir/root")
else
  if [ ! -e "$("$PG_CONFIG" --sharedir)/extension/baseledger.control" ]; then
    make -j2 >&2
    "${sudo[@]}" make install >&2
  fi
  "${sudo[@]}" make -s -C router install >&2
fi

# Debian's python3-psycopg is installed for the system interpreter, which may
# not be the first python3 on PATH.
exec /usr/bin/python3 test/router/run.py ${args[@]+"${args[@]}"}
