#!/usr/bin/env bash
# Dump and restore: the ledger's tables are registered with
# pg_extension_config_dump, so pg_dump keeps their rows and pg_restore brings
# back the same money, holds and history, still verifiable and still working.
#
#   bash scripts/with-cluster.sh bash test/dump_restore/run.sh
#
# A. A database without pg_cron, filled through the API (test/lib/populate.sql):
#    pg_dump -Fc and pg_restore into a new database, and pg_dump as plain SQL
#    into psql. The restored ledger must show the same balances, holds and
#    events (test/lib/snapshot.sql, and every column of the three tables), find
#    nothing in ledger_verify(), replay an old key, settle a hold, refund the
#    lapsed hold, and still refuse UPDATE on its events.
# B. The pg_cron database (baseledger_test, whose expiry job gets a schedule
#    of its own): restored into a database without pg_cron with
#    scripts/pg-restore-list.sh --without-pg-cron, and into a new pg_cron
#    database with scripts/pg-restore-list.sh, where the job must come back
#    from the dump exactly once.
#
# Ends with "N passed, M failed".
set -uo pipefail

cd "$(dirname "$0")/../.."
. test/lib/checks.sh

out=build/dump_restore
rm -rf "$out"
mkdir -p "$out"
cron_db=${PGDATABASE:-baseledger_test}

snapshot() {
  psql -X -q -d "$1" -f test/lib/snapshot.sql 2>&1
}
# Every column of the ledger's tables (grants included), whatever later
# versions add.
tables() {
  local db=$1 t
  for t in wallets events reservations grants limits limit_usage alert_rules alerts; do
    echo "== $t"
    psql -X -q -d "$db" -c "COPY (SELECT * FROM ledger.$t ORDER BY 1, 2) TO STDOUT" 2>&1
  done
}
verify() {
  q -d "$1" -c "SELECT wallet_id || ': ' || problem FROM ledger.ledger_verify()" 2>&1
}
# Policies of 0.3.0 on the shared test ledger: a limit with its use, an alert
# that fired (and its numbering), an uncapped child with a tree event.
policies() {
  cat <<'SQL'
SELECT ledger.ledger_set_limit('up-org', 'day', 1000000, 1000);
SELECT ledger.ledger_set_alert('up-org', 'available_below', 1000000);
SELECT ledger.ledger_create_wallet('up-org/session', 'credits', NULL, false);
SELECT ledger.ledger_debit('up-org/session', 7, 'session-debit');
SQL
}
# same_ledger NAME SOURCE_DB TARGET_DB: snapshot and tables are identical.
same_ledger() {
  local name=$1 src=$2 dst=$3
  snapshot "$src" >"$out/$src.snapshot"
  snapshot "$dst" >"$out/$dst.snapshot"
  tables "$src" >"$out/$src.tables"
  tables "$dst" >"$out/$dst.tables"
  if [ -s "$out/$src.snapshot" ] && cmp -s "$out/$src.snapshot" "$out/$dst.snapshot"; then
    ok "$name: balances, holds and events as in the source ($(grep -c '^event|' "$out/$dst.snapshot") events)"
  else
    not_ok "$name: balances, holds and events as in the source" \
      "$(diff "$out/$src.snapshot" "$out/$dst.snapshot" | head -20)"
  fi
  if cmp -s "$out/$src.tables" "$out/$dst.tables"; then
    ok "$name: every row and column of the ledger's tables"
  else
    not_ok "$name: every row and column of the ledger's tables" \
      "$(diff "$out/$src.tables" "$out/$dst.tables" | head -20)"
  fi
  expect_eq "$name: ledger_verify() finds nothing" "" "$(verify "$dst")"
}
sqlstate_of() {
  q -d "$1" -c "DO \$\$ BEGIN $2; RAISE NOTICE 'ok';
                EXCEPTION WHEN OTHERS THEN RAISE NOTICE '%', SQLSTATE; END \$\$" 2>&1 |
    sed -nE 's/.*NOTICE: +//p'
}

for db in dr_src dr_custom dr_plain dr_nocron; do
  dropdb --if-exists "$db" 2>/dev/null
done

# ---- A. a database without pg_cron
createdb dr_src
expect_ok "A: create and fill the source ledger" \
  psql -X -q -v ON_ERROR_STOP=1 -d dr_src -c "SET client_min_messages = warning" \
  -c "CREATE EXTENSION baseledger" -f test/lib/populate.sql \
  -c "SELECT ledger.ledger_grant('baseledger_client', 'up-late', 'spend')" \
  -c "$(policies)"
expect_ok "A: pg_dump -Fc" pg_dump -Fc -d dr_src -f "$out/dr_src.dump"
expect_ok "A: pg_dump (plain SQL)" pg_dump -d dr_src -f "$out/dr_src.sql"
expect_eq "A: the dump holds the rows of the ledger's tables" \
  "TABLE DATA ledger alert_rules|TABLE DATA ledger alerts|TABLE DATA ledger events|TABLE DATA ledger grants|TABLE DATA ledger limit_usage|TABLE DATA ledger limits|TABLE DATA ledger reservations|TABLE DATA ledger wallets" \
  "$(pg_restore -l "$out/dr_src.dump" | sed -nE 's/^[0-9]+; [0-9]+ [0-9]+ (TABLE DATA ledger [a-z_]+) .*/\1/p' |
     sort | paste -sd'|')"

createdb dr_custom
expect_ok "A: pg_restore into a new database" \
  pg_restore --exit-on-error -d dr_custom "$out/dr_src.dump"
same_ledger "A: pg_restore" dr_src dr_custom
createdb dr_plain
expect_ok "A: psql -f of the plain dump into a new database" \
  psql -X -q -v ON_ERROR_STOP=1 -d dr_plain -f "$out/dr_src.sql"
same_ledger "A: plain dump" dr_src dr_plain

# The restored ledger works like the original.
expect_eq "A: a key used before the dump replays (same seq, replayed)" "1|t" \
  "$(q -d dr_custom -c "SELECT seq, replayed FROM ledger.ledger_credit('up-org', 100000, 'fund', '{\"invoice\": 17}')")"
expect_eq "A: the same key with another amount is an idempotency conflict" "LB007" \
  "$(sqlstate_of dr_custom "PERFORM ledger.ledger_credit('up-org', 1, 'fund')")"
expect_eq "A: a hold in force before the dump settles" "settle|500|4047|f" \
  "$(q -d dr_custom -c "
       SELECT kind, amount, balance, replayed FROM ledger.ledger_settle('up-org/agent-1',
         (SELECT reservation_id FROM ledger.reservations WHERE wallet_id = 'up-org/agent-1'
             AND state = 'active'), 500, 'call-3/settle')")"
expect_eq "A: the hold that lapsed before the dump gets its expire event" "1|expire|40|50" \
  "$(q -d dr_custom -c "SELECT ledger.ledger_expire()" \
       -c "SELECT kind, amount, balance FROM ledger.events WHERE wallet_id = 'up-late' ORDER BY seq DESC LIMIT 1" |
     paste -sd'|')"
expect_eq "A: the restored event log still refuses UPDATE" "42501" \
  "$(sqlstate_of dr_custom "UPDATE ledger.events SET amount = 0 WHERE seq = 1")"
expect_eq "A: the restored event log still refuses TRUNCATE" "42501" \
  "$(sqlstate_of dr_custom "TRUNCATE ledger.events")"
expect_eq "A: the administration views read the restored ledger" "up-org/agent-1|4047|0" \
  "$(q -d dr_custom -c "SELECT wallet_id, balance, reserved FROM ledger.wallet_tree WHERE wallet_id = 'up-org/agent-1'")"
expect_eq "A: ledger_verify() finds nothing after new writes" "" "$(verify dr_custom)"

# ---- B. the pg_cron database
# The expiry job gets a schedule of its own (once a year, so it does not
# sweep during the test): a restored job must carry it.
q -c "SET client_min_messages = warning" -c "DROP EXTENSION IF EXISTS baseledger CASCADE" >/dev/null
expect_ok "B: create and fill the ledger in the pg_cron database $cron_db" \
  psql -X -q -v ON_ERROR_STOP=1 -c "SET client_min_messages = warning" \
  -c "CREATE EXTENSION baseledger" -c "SELECT ledger.ledger_schedule_expiry('0 0 1 1 *')" \
  -f test/lib/populate.sql
expect_ok "B: pg_dump -Fc" pg_dump -Fc -f "$out/cron.dump"
snapshot "$cron_db" >"$out/cron-source.snapshot"
tables "$cron_db" >"$out/cron-source.tables"
jobs_before=$(q -c "SELECT jobname, schedule, command FROM cron.job ORDER BY jobid")

# B1. Into a database without pg_cron.
createdb dr_nocron
bash scripts/pg-restore-list.sh --without-pg-cron "$out/cron.dump" >"$out/nocron.list"
expect_eq "B1: the list leaves pg_cron and its job table out" "" \
  "$(grep -E 'pg_cron|TABLE DATA cron' "$out/nocron.list" | grep -v '^;')"
expect_ok "B1: pg_restore -L into a database without pg_cron" \
  pg_restore --exit-on-error -L "$out/nocron.list" -d dr_nocron "$out/cron.dump"
same_ledger "B1: restored without pg_cron" "$cron_db" dr_nocron
expect_eq "B1: no pg_cron there" "0" \
  "$(q -d dr_nocron -c "SELECT count(*) FROM pg_extension WHERE extname = 'pg_cron'")"

# B2. Into a new pg_cron database: the database named by cron.database_name
# is dropped and restored.
bash scripts/pg-restore-list.sh "$out/cron.dump" >"$out/cron.list"
expect_eq "B2: the list creates baseledger before pg_cron" "SCHEMA - ledger|EXTENSION - baseledger|EXTENSION - pg_cron" \
  "$(grep -oE '(SCHEMA - ledger|EXTENSION - (baseledger|pg_cron))' "$out/cron.list" | paste -sd'|')"
q -d postgres -c "DROP DATABASE $cron_db WITH (FORCE)" -c "CREATE DATABASE $cron_db"
expect_ok "B2: pg_restore -L into a new pg_cron database" \
  pg_restore --exit-on-error -L "$out/cron.list" -d "$cron_db" "$out/cron.dump"
snapshot "$cron_db" >"$out/cron-restored.snapshot"
tables "$cron_db" >"$out/cron-restored.tables"
if cmp -s "$out/cron-source.snapshot" "$out/cron-restored.snapshot" &&
  cmp -s "$out/cron-source.tables" "$out/cron-restored.tables"; then
  ok "B2: balances, holds, events and every column as in the source"
else
  not_ok "B2: balances, holds, events and every column as in the source" \
    "$(diff "$out/cron-source.snapshot" "$out/cron-restored.snapshot" | head -10)
$(diff "$out/cron-source.tables" "$out/cron-restored.tables" | head -10)"
fi
expect_eq "B2: ledger_verify() finds nothing" "" "$(verify "$cron_db")"
expect_eq "B2: the expiry job is back once, with its own schedule" "$jobs_before" \
  "$(q -c "SELECT jobname, schedule, command FROM cron.job ORDER BY jobid")"
expect_eq "B2: ledger_schedule_expiry() still upserts the one job" "1|* * * * *" \
  "$(q -c "SELECT ledger.ledger_schedule_expiry() IS NOT NULL" -c "SELECT count(*) || '|' || min(schedule) FROM cron.job WHERE jobname = 'baseledger-expire'" | tail -1)"

for db in dr_src dr_custom dr_plain dr_nocron; do
  dropdb --if-exists "$db"
done
summary
