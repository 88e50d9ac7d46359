#!/usr/bin/env bash
# Usage: scripts/with-cluster.sh CMD [ARG...]
#
# Runs CMD against a throwaway PostgreSQL 15 cluster with pg_cron preloaded,
# after creating database baseledger_test with pg_cron installed in it.
# PGHOST, PGPORT, PGUSER, PGPASSWORD and PGDATABASE=baseledger_test are set
# for CMD; the cluster is dropped when CMD ends and CMD's exit status is
# returned.
set -euo pipefail

if [ $# -eq 0 ]; then
  echo "usage: $0 CMD [ARG...]" >&2
  exit 2
fi

db=baseledger_test

if [ "${BASELEDGER_IN_VIRTUALENV:-}" != 1 ]; then
  # -t keeps the cluster's config, data and logs in a private temporary
  # directory even as root: as root pg_virtualenv otherwise uses the fixed
  # cluster 15/regress under /etc/postgresql, so two runs on one machine
  # would collide, and a run killed before its cleanup would block the next.
  #
  # pg_cron only runs in the database named by cron.database_name. Its jobs
  # run in background workers: the default (libpq to localhost) would need
  # the cluster's random password, which the scheduler does not have.
  #
  # pg_createcluster takes the first free port from 5432 on, and two runs
  # starting at once can both see 5432 free before either server listens.
  # A random free port makes that clash unlikely; an inherited PGPORT (a
  # developer's own server) is not ours to reuse.
  # shellcheck source=scripts/lib/free-port.sh
  . "$(dirname "$0")/lib/free-port.sh"
  PGPORT=$(pick_free_port)
  export PGPORT
  export BASELEDGER_IN_VIRTUALENV=1
  exec pg_virtualenv -t -v 15 \
    -o shared_preload_libraries=pg_cron \
    -o cron.database_name="$db" \
    -o cron.use_background_workers=on \
    bash "$0" "$@"
fi

# From here on we run inside pg_virtualenv, which returns our exit status.
unset BASELEDGER_IN_VIRTUALENV
createdb "$db"
psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c 'CREATE EXTENSION pg_cron'
export PGDATABASE="$db"
exec "$@"
