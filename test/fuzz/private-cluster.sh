#!/usr/bin/env bash
# Usage: test/fuzz/private-cluster.sh STAGE WORKDIR CMD [ARG...]
# (WORKDIR must be reachable by the postgres user, e.g. under /tmp.)
#
# Runs CMD against a throwaway PostgreSQL 15 server that loads the baseledger
# build installed under STAGE (a `make install DESTDIR=STAGE`, see fuzz.mk)
# instead of the system's, so that an instrumented build can be tested while
# other runs on this machine keep using the installed one.
#
# PostgreSQL finds its share and lib directories relative to the postgres
# binary, so WORKDIR/root gets a copy of /usr/lib/postgresql/15/bin and
# symbolic-link farms of its lib and share directories in which only the
# baseledger files come from STAGE. The server is set up like
# scripts/with-cluster.sh's (pg_cron preloaded, database baseledger_test with
# pg_cron installed) and listens on a Unix socket in WORKDIR only.
#
# Environment:
#   SERVER_WRAPPER   command words put before postgres (e.g. valgrind ...)
#   SERVER_ENV       NAME=VALUE words for the server's environment (e.g. LD_PRELOAD=...)
#   START_TIMEOUT    seconds to wait for the server (default 60)
# CMD sees PGHOST, PGPORT, PGUSER, PGDATABASE and BASELEDGER_SERVER_LOG (the
# server's stderr log, WORKDIR/server.log); the server is stopped when CMD ends
# and CMD's exit status is returned. WORKDIR is kept for inspection.
set -euo pipefail

if [ $# -lt 3 ]; then
  echo "usage: $0 STAGE WORKDIR CMD [ARG...]" >&2
  exit 2
fi
stage=$(realpath "$1")
work=$2
shift 2

pgbin=/usr/lib/postgresql/15/bin
pglib=/usr/lib/postgresql/15/lib
pgshare=/usr/share/postgresql/15
db=baseledger_test

if [ ! -e "$stage$pglib/baseledger.so" ]; then
  echo "private-cluster: no $stage$pglib/baseledger.so (build it with make -f fuzz.mk)" >&2
  exit 2
fi

rm -rf "$work"
mkdir -p "$work"
work=$(realpath "$work")
root=$work/root

# The relocated installation: real binaries, linked libraries and share files.
mkdir -p "$root/usr/lib/postgresql/15" "$root/usr/share/postgresql"
cp -a "$pgbin" "$root$pgbin"
cp -rs "$pglib" "$root$pglib"
cp -rs "$pgshare" "$root$pgshare"
find "$root$pglib" "$root$pgshare" -name '*baseledger*' -exec rm -rf {} +
cp "$stage$pglib/baseledger.so" "$root$pglib/"
cp "$stage$pgshare"/extension/baseledger* "$root$pgshare/extension/"

# The server runs as postgres (initdb refuses root); everything it touches
# must be reachable for that user.
owner=postgres
if [ "$(id -u)" -ne 0 ]; then
  owner=$(id -un)
fi
as_owner() {
  if [ "$(id -un)" = "$owner" ]; then "$@"; else runuser -u "$owner" -- "$@"; fi
}
chmod 755 "$work"
mkdir -p "$work/data" "$work/sock"
chown "$owner" "$work/data" "$work/sock" "$work"
if ! as_owner test -x "$root$pgbin/postgres"; then
  echo "private-cluster: $owner cannot reach $work; use a WORKDIR under /tmp" >&2
  exit 2
fi

as_owner "$root$pgbin/initdb" -D "$work/data" -U postgres --auth=trust -E UTF8 \
  --locale=C.UTF-8 --no-sync >"$work/initdb.log" 2>&1 || {
  cat "$work/initdb.log" >&2
  exit 1
}

port=$((20000 + RANDOM % 20000))
log=$work/server.log
read -r -a wrapper <<<"${SERVER_WRAPPER:-}"
read -r -a server_env <<<"${SERVER_ENV:-}"
# shellcheck disable=SC2016
as_owner env "${server_env[@]}" "${wrapper[@]}" "$root$pgbin/postgres" -D "$work/data" \
  -p "$port" -k "$work/sock" -c listen_addresses= \
  -c shared_preload_libraries=pg_cron -c cron.database_name=$db \
  -c cron.use_background_workers=on -c max_worker_processes=16 \
  -c fsync=off -c log_line_prefix='%m [%p] ' >"$log" 2>&1 &
server_pid=$!

stop_server() {
  if kill -0 "$server_pid" 2>/dev/null; then
    as_owner "$root$pgbin/pg_ctl" -D "$work/data" stop -m fast -t 300 >/dev/null 2>&1 ||
      kill -INT "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
}
trap stop_server EXIT

export PGHOST=$work/sock PGPORT=$port PGUSER=postgres PGDATABASE=$db
export BASELEDGER_SERVER_LOG=$log
unset PGPASSWORD PGSERVICE PG_CLUSTER_CONF_ROOT

deadline=$((SECONDS + ${START_TIMEOUT:-60}))
until "$pgbin/pg_isready" -q -d postgres; do
  if ! kill -0 "$server_pid" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
    echo "private-cluster: the server did not start; its log:" >&2
    tail -50 "$log" >&2
    exit 1
  fi
  sleep 1
done

"$pgbin/createdb" "$db"
"$pgbin/psql" -X -q -v ON_ERROR_STOP=1 -d "$db" -c 'CREATE EXTENSION pg_cron'

rc=0
"$@" || rc=$?
stop_server
trap - EXIT
exit "$rc"
