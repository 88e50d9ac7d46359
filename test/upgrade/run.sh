#!/usr/bin/env bash
# Upgrade test: a released version stays frozen, every later version is
# reachable by ALTER EXTENSION, and an upgraded database is the same as a
# fresh install of the newest version, with its money intact.
#
#   bash scripts/with-cluster.sh bash test/upgrade/run.sh
#
# 1. The install scripts of released versions (test/upgrade/released.sha256)
#    have not changed since their release.
# 2. Every available version has an update path to the default version.
# 3. A database gets the oldest release and a ledger filled through its API
#    (test/lib/populate.sql) by that release's own module, built from the
#    commit in test/upgrade/released-commits and loaded from a private
#    directory (extension_destdir); then, with the module installed now, it
#    walks ALTER EXTENSION baseledger UPDATE TO each version on the path, one
#    step at a time: after each step the ledger's tables are the same
#    (test/lib/snapshot-tables.sql); after the last, the API shows the same
#    ledger (test/lib/snapshot.sql) and ledger_verify() finds nothing.
# 4. After the last step the old data still works: a retried key replays, a
#    hold in force settles, a lapsed hold gets its expire event.
# 5. pg_dump --schema-only of the upgraded database (with --binary-upgrade,
#    which lists every member of the extension, less the object ids) equals
#    that of a fresh CREATE EXTENSION baseledger.
# 6. In the database with pg_cron, the expiry job survives the upgrade.
#
# Ends with "N passed, M failed".
set -uo pipefail

cd "$(dirname "$0")/../.."
here=test/upgrade
. test/lib/checks.sh

out=build/upgrade
rm -rf "$out"
mkdir -p "$out"

# ---- 1. released versions are frozen
while read -r sum file; do
  [ -n "$sum" ] && [ "${sum:0:1}" != "#" ] || continue
  actual=$(sha256sum "$file" 2>/dev/null | cut -d' ' -f1)
  expect_eq "released script $file is unchanged" "$sum" "$actual"
done <"$here/released.sha256"

oldest=$(sed -nE 's/^[0-9a-f]{64} +sql\/baseledger--([0-9.]+)\.sql$/\1/p' "$here/released.sha256" |
  sort -V | head -1)
newest=$(q -d postgres -c "SELECT default_version FROM pg_available_extensions WHERE name = 'baseledger'")
echo "# oldest release $oldest, default version $newest"

# ---- 2. every version reaches the default one
unreachable=$(q -d postgres -c "
  SELECT string_agg(v.version, ', ' ORDER BY v.version)
    FROM pg_available_extension_versions v
   WHERE v.name = 'baseledger' AND v.version <> '$newest'
     AND NOT EXISTS (SELECT 1 FROM pg_extension_update_paths('baseledger') p
                      WHERE p.source = v.version AND p.target = '$newest'
                        AND p.path IS NOT NULL)")
expect_eq "every available version has an update path to $newest" "" "$unreachable"
path=$(q -d postgres -c "
  SELECT path FROM pg_extension_update_paths('baseledger')
   WHERE source = '$oldest' AND target = '$newest'")
echo "# update path: ${path:-none}"
if [ -z "$path" ]; then
  not_ok "an update path leads from $oldest to $newest"
  summary
  exit 1
fi

# ---- 3. install the oldest release, fill it, walk the path step by step
for db in upgrade_old upgrade_new; do
  dropdb --if-exists "$db" 2>/dev/null
  createdb "$db"
done
# The oldest release's module, built once per commit into build/.
rev=$(awk -v v="$oldest" '$1 == v {print $2}' "$here/released-commits")
old_root=
if [ -z "$rev" ] || ! git cat-file -e "$rev^{commit}" 2>/dev/null; then
  not_ok "the source of $oldest (commit ${rev:-unknown}) is in the git history"
else
  cache=build/upgrade-releases/$oldest-${rev:0:12}
  if [ ! -e "$cache/root/usr/lib/postgresql/15/lib/baseledger.so" ]; then
    rm -rf "$cache"
    mkdir -p "$cache/src"
    git archive "$rev" | tar -x -C "$cache/src"
    if ! { make -C "$cache/src" -j2 PG_CONFIG="${PG_CONFIG:-pg_config}" &&
      make -C "$cache/src" install DESTDIR="$PWD/$cache/root" PG_CONFIG="${PG_CONFIG:-pg_config}"; } \
      >"$cache/build.log" 2>&1; then
      tail -20 "$cache/build.log"
      rm -rf "$cache/root"
    fi
  fi
  if [ -e "$cache/root/usr/lib/postgresql/15/lib/baseledger.so" ]; then
    ok "the $oldest module is built from commit ${rev:0:12}"
    old_root=$PWD/$cache/root
  else
    not_ok "the $oldest module is built from commit ${rev:0:12}"
  fi
fi
# Sessions that load the release's module instead of the installed one.
old_module() {
  PGOPTIONS="${PGOPTIONS:-} -c extension_destdir=$old_root" "$@"
}

expect_ok "CREATE EXTENSION baseledger VERSION '$oldest' (the $oldest module)" \
  old_module q -d upgrade_old -c "SET client_min_messages = warning" \
  -c "CREATE EXTENSION baseledger VERSION '$oldest'"
expect_ok "populate the $oldest ledger through its API (the $oldest module)" \
  old_module psql -X -q -d upgrade_old -f test/lib/populate.sql
old_module psql -X -q -d upgrade_old -f test/lib/snapshot.sql >"$out/before.txt" 2>&1

# Between installing a new module and ALTER EXTENSION UPDATE, a database
# still at the old version runs the new module against the old schema.
mixed=$(q -d upgrade_old -c "SELECT balance FROM ledger.ledger_balance('up-org')" 2>&1 | head -1)
echo "# the installed module on the $oldest schema, before the update: ledger_balance() -> $mixed"
echo "# $(grep -c '^event|' "$out/before.txt") events, $(grep -c '^reservation|' "$out/before.txt") holds"

# The module serves the newest schema only, so at an intermediate version
# the ledger is compared through its tables; through the API as well (and
# verified) at the last step.
old_module psql -X -q -d upgrade_old -f test/lib/snapshot-tables.sql >"$out/before-tables.txt" 2>&1
IFS=- read -r -a steps <<<"${path//--/-}"
last=${steps[${#steps[@]}-1]}
for step in "${steps[@]:1}"; do
  expect_ok "ALTER EXTENSION baseledger UPDATE TO '$step'" \
    q -d upgrade_old -c "ALTER EXTENSION baseledger UPDATE TO '$step'"
  expect_eq "the extension is at $step" "$step" \
    "$(q -d upgrade_old -c "SELECT extversion FROM pg_extension WHERE extname = 'baseledger'")"
  if [ "$step" = "$last" ]; then
    snapshot=test/lib/snapshot.sql before="$out/before.txt" what="balances, holds and events"
  else
    snapshot=test/lib/snapshot-tables.sql before="$out/before-tables.txt"
    what="wallets, holds and events (tables)"
  fi
  psql -X -q -d upgrade_old -f "$snapshot" >"$out/after-$step.txt" 2>&1
  if cmp -s "$before" "$out/after-$step.txt"; then
    ok "$what are unchanged at $step"
  else
    not_ok "$what are unchanged at $step" \
      "$(diff "$before" "$out/after-$step.txt" | head -20)"
  fi
done
expect_eq "ledger_verify() finds nothing at $last" "0 problems" \
  "$(q -d upgrade_old -c "SELECT count(*) || ' problems' FROM ledger.ledger_verify()")"

# ---- 4. the old data keeps working
expect_eq "a key used before the upgrade replays (same seq, replayed)" "1|t" \
  "$(q -d upgrade_old -c "SELECT seq, replayed FROM ledger.ledger_credit('up-org', 100000, 'fund', '{\"invoice\": 17}')")"
expect_eq "the same key with another amount is an idempotency conflict" "LB007" \
  "$(q -d upgrade_old -c "DO \$\$ BEGIN PERFORM ledger.ledger_credit('up-org', 1, 'fund');
       EXCEPTION WHEN OTHERS THEN RAISE NOTICE '%', SQLSTATE; END \$\$" 2>&1 | sed -nE 's/.*NOTICE: +//p')"
expect_eq "a hold made before the upgrade settles" "settle|500|4047|f" \
  "$(q -d upgrade_old -c "
       SELECT kind, amount, balance, replayed FROM ledger.ledger_settle('up-org/agent-1',
         (SELECT reservation_id FROM ledger.reservations WHERE wallet_id = 'up-org/agent-1'
             AND state = 'active'), 500, 'call-3/settle')")"
expect_eq "the hold that lapsed before the upgrade gets its expire event" "1|expire|40|50" \
  "$(q -d upgrade_old -c "SELECT ledger.ledger_expire()" \
       -c "SELECT kind, amount, balance FROM ledger.events WHERE wallet_id = 'up-late' ORDER BY seq DESC LIMIT 1" |
     paste -sd'|')"
# (Counted, so that an error, which prints nothing, cannot pass for "no rows".)
expect_eq "ledger_verify() finds nothing after new writes" "0 problems" \
  "$(q -d upgrade_old -c "SELECT count(*) || ' problems' FROM ledger.ledger_verify()")"

# ---- 5. the upgraded schema is the fresh one
expect_ok "CREATE EXTENSION baseledger (fresh $newest)" \
  q -d upgrade_new -c "SET client_min_messages = warning" -c "CREATE EXTENSION baseledger"

# Object ids and transaction ids differ between two databases and the
# \restrict key between two runs; everything else must be the same.
schema_dump() {
  pg_dump --schema-only "$@" |
    sed -E -e '/^\\(un)?restrict /d' \
      -e '/binary_upgrade_set_next_/d' \
      -e "s/relfrozenxid = '[0-9]+'/relfrozenxid = 'xid'/" \
      -e "s/^WHERE oid = '[0-9]+';$/WHERE oid = 'toast table oid';/" \
      -e "s/(binary_upgrade_create_empty_extension\('baseledger', '[^']*', [a-z]+, '[^']*', )'\{[0-9,]*\}'/\1'{config table oids}'/"
}
for db in upgrade_old upgrade_new; do
  schema_dump --binary-upgrade -d "$db" >"$out/$db.schema.sql"
  schema_dump -d "$db" >"$out/$db.plain.sql"
done
if [ "$(grep -c 'ALTER EXTENSION baseledger ADD' "$out/upgrade_new.schema.sql")" -gt 0 ] &&
  cmp -s "$out/upgrade_old.schema.sql" "$out/upgrade_new.schema.sql"; then
  ok "pg_dump --schema-only --binary-upgrade: upgraded = fresh ($(grep -c 'ALTER EXTENSION baseledger ADD' "$out/upgrade_new.schema.sql") member objects)"
else
  not_ok "pg_dump --schema-only --binary-upgrade: upgraded = fresh" \
    "$(diff -u "$out/upgrade_new.schema.sql" "$out/upgrade_old.schema.sql" | head -60)"
fi
if cmp -s "$out/upgrade_old.plain.sql" "$out/upgrade_new.plain.sql"; then
  ok "pg_dump --schema-only: upgraded = fresh"
else
  not_ok "pg_dump --schema-only: upgraded = fresh" \
    "$(diff -u "$out/upgrade_new.plain.sql" "$out/upgrade_old.plain.sql" | head -40)"
fi
# What pg_dump does not show: the extension's own record of its tables.
expect_eq "the same tables are registered for dumping" \
  "$(q -d upgrade_new -c "SELECT array_agg(c::regclass::text ORDER BY c::regclass::text) FROM pg_extension, unnest(extconfig) c WHERE extname = 'baseledger'")" \
  "$(q -d upgrade_old -c "SELECT array_agg(c::regclass::text ORDER BY c::regclass::text) FROM pg_extension, unnest(extconfig) c WHERE extname = 'baseledger'")"

# ---- 6. with pg_cron, the expiry job survives the upgrade
q -c "SET client_min_messages = warning" -c "DROP EXTENSION IF EXISTS baseledger CASCADE" >/dev/null
expect_ok "CREATE EXTENSION baseledger VERSION '$oldest' with pg_cron" \
  q -c "CREATE EXTENSION baseledger VERSION '$oldest'"
expect_ok "ALTER EXTENSION baseledger UPDATE with pg_cron" \
  q -c "ALTER EXTENSION baseledger UPDATE"
expect_eq "the pg_cron job baseledger-expire is still scheduled" \
  "* * * * *|SELECT ledger.ledger_expire()" \
  "$(q -c "SELECT schedule, command FROM cron.job WHERE jobname = 'baseledger-expire'")"
q -c "SET client_min_messages = warning" -c "DROP EXTENSION baseledger CASCADE" >/dev/null

dropdb upgrade_old
dropdb upgrade_new
summary
