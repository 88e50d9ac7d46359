#!/usr/bin/env bash
# Usage: bash test/reliability/run.sh [--duration S] [--clients N] [--crashes K]
#                                     [--kill-mode postmaster|all|mixed] [--max-calls M]
#                                     [--hot H] [--cold C] [--seed X] [--fsync on|off]
#                                     [--logdir DIR] [--self-test] [--build]
#                                     [--ext-rev REV]
#
# Runs the randomized concurrent workload (and, with --crashes, the crash
# loop) against a throwaway cluster made by scripts/with-cluster.sh, then the
# independent auditor; or, with --self-test, the scenarios that break the
# ledger on purpose and must be caught. Ends with "N passed, M failed" and
# exits non-zero when anything failed. See test/reliability/README.md.
#
# By default the cluster uses the extension installed in the server's
# directories (scripts/test.sh installs it before it runs this). --build builds
# and installs the working tree first. --ext-rev REV instead builds the
# committed revision REV into build/reliability-ext/ and points the cluster at
# that private copy (extension_destdir), so that a run is not disturbed by
# another `make install` on the same machine.
set -euo pipefail

cd "$(dirname "$0")/../.."

export PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
command="bash test/reliability/run.sh${*:+ $*}"
build=0
ext_rev=
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=1 ;;
    --ext-rev) ext_rev=$2; shift ;;
    --ext-rev=*) ext_rev=${1#--ext-rev=} ;;
    *) args+=("$1") ;;
  esac
  shift
done

bash scripts/install-reliability-deps.sh >&2

# The extension must be installed in the server's directories; build it when
# it is missing (scripts/test.sh has already done so when it runs this).
if [ -z "$ext_rev" ] &&
  { [ "$build" = 1 ] || [ ! -e "$("$PG_CONFIG" --sharedir)/extension/baseledger.control" ]; }; then
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  make -j2 >&2
  "${sudo[@]}" make install >&2
fi

if [ -n "$ext_rev" ]; then
  rev=$(git rev-parse --short "$ext_rev^{commit}")
  dir=$PWD/build/reliability-ext/$rev
  if [ ! -e "$dir/root/usr/lib/postgresql/15/lib/baseledger.so" ]; then
    rm -rf "$dir"
    mkdir -p "$dir/src"
    git archive "$rev" | tar -x -C "$dir/src"
    echo "building $rev into $dir (log: $dir/build.log)" >&2
    { make -C "$dir/src" -j2 && make -C "$dir/src" install DESTDIR="$dir/root"; } \
      >"$dir/build.log" 2>&1 || { tail -30 "$dir/build.log" >&2; exit 1; }
  fi
  args+=(--ext-root "$dir/root" --ext-label "$rev")
fi

# Debian's python3-psycopg is installed for the system interpreter, which may
# not be the first python3 on PATH.
export RELIABILITY_COMMAND="$command"
export PYTHONDONTWRITEBYTECODE=1
exec bash scripts/with-cluster.sh /usr/bin/python3 test/reliability/workload.py ${args[@]+"${args[@]}"}
