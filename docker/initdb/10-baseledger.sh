#!/usr/bin/env bash
# Run by the postgres image's entrypoint when it initializes an empty data
# directory, with a temporary server running and POSTGRES_USER and
# POSTGRES_DB set. Installs pg_cron in the database named by
# cron.database_name (creating that database if needed) and baseledger
# there, which schedules the expiry job baseledger-expire; baseledger also
# goes into POSTGRES_DB when that is another database (expired holds there
# are refunded by later writes or by calling ledger_expire()).
set -euo pipefail

user=${POSTGRES_USER:-postgres}
db=${POSTGRES_DB:-$user}
sql() {
  local target=$1
  shift
  psql -X -q -v ON_ERROR_STOP=1 --username "$user" --no-password --dbname "$target" "$@"
}

cron_db=$(sql "$db" -At -c "SHOW cron.database_name")
sql "$db" <<'SQL'
SELECT pg_catalog.format('CREATE DATABASE %I', pg_catalog.current_setting('cron.database_name'))
 WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_database
                    WHERE datname = pg_catalog.current_setting('cron.database_name'))
\gexec
SQL
sql "$cron_db" -c "CREATE EXTENSION IF NOT EXISTS pg_cron" \
  -c "CREATE EXTENSION IF NOT EXISTS baseledger"
echo "baseledger: installed in database $cron_db with pg_cron (job baseledger-expire)"

if [ "$db" != "$cron_db" ]; then
  sql "$db" -c "CREATE EXTENSION IF NOT EXISTS baseledger"
  echo "baseledger: installed in database $db (no pg_cron there)"
fi
