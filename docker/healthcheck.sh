#!/usr/bin/env bash
# The container's health check (HEALTHCHECK in docker/Dockerfile and
# healthcheck in docker/compose.yaml): healthy when the server accepts
# connections, the ledger answers in POSTGRES_DB (a call into the C module),
# and the database named by cron.database_name has the pg_cron job that
# refunds lapsed holds. Prints what is wrong and exits 1 otherwise.
set -uo pipefail

user=${POSTGRES_USER:-postgres}
db=${POSTGRES_DB:-$user}
sql() {
  psql -X -q -At -v ON_ERROR_STOP=1 --username "$user" --no-password --dbname "$1" -c "$2"
}

if ! pg_isready -q --username "$user" --dbname "$db"; then
  echo "unhealthy: the server does not accept connections"
  exit 1
fi
version=$(sql "$db" "SELECT extversion FROM pg_extension WHERE extname = 'baseledger'") || exit 1
if [ -z "$version" ]; then
  echo "unhealthy: extension baseledger is not installed in database $db"
  exit 1
fi
# A call into the C module that writes nothing: it must answer with its own
# "wallet not found" (LB002).
if ! sql "$db" "DO \$\$ BEGIN PERFORM ledger.ledger_balance('healthcheck/none');
                EXCEPTION WHEN SQLSTATE 'LB002' THEN NULL; END \$\$" >/dev/null; then
  echo "unhealthy: the ledger does not answer in database $db"
  exit 1
fi
cron_db=$(sql "$db" "SHOW cron.database_name") || exit 1
job=$(sql "$cron_db" "SELECT active FROM cron.job WHERE jobname = 'baseledger-expire'") || exit 1
if [ "$job" != t ]; then
  echo "unhealthy: no active pg_cron job baseledger-expire in database $cron_db"
  exit 1
fi
echo "healthy: baseledger $version in $db, expiry job active in $cron_db"
