#!/usr/bin/env bash
# Usage: scripts/pg-restore-list.sh [--without-pg-cron] DUMP > LIST
#        pg_restore -L LIST -d TARGET DUMP
#
# Prints the table of contents of a custom-format or directory dump
# (pg_restore -l) in the order that restores a database holding both pg_cron
# and baseledger.
#
# pg_cron's job table is dumped with its rows, and CREATE EXTENSION baseledger
# schedules its expiry job when pg_cron is already there. A plain pg_restore
# creates pg_cron first, so the job exists twice and COPY of cron.job fails
# with a duplicate key. This list moves baseledger (with the ledger schema)
# before pg_cron: baseledger is created without a job, then the job comes back
# from the dump as it was, with its own schedule.
#
# --without-pg-cron leaves pg_cron and its jobs out, for a target database
# other than the one named by cron.database_name (pg_cron can only be created
# there). Schedule ledger_expire() there by other means; until then lapsed
# holds stop counting at once and are refunded by the next write on their
# wallet (see the view ledger.lapsed_reservations).
set -euo pipefail

without_cron=0
if [ "${1:-}" = --without-pg-cron ]; then
  without_cron=1
  shift
fi
if [ $# -ne 1 ]; then
  echo "usage: $0 [--without-pg-cron] DUMP" >&2
  exit 2
fi

toc=$(pg_restore -l "$1")

# Entries look like "ID; TABLEOID OID TYPE SCHEMA NAME OWNER"; lines starting
# with ';' are comments.
is_cron='^[0-9]+; [0-9]+ [0-9]+ (EXTENSION - pg_cron( |$)|COMMENT - EXTENSION pg_cron( |$)|(TABLE DATA|SEQUENCE SET|SEQUENCE OWNED BY|ACL) cron )'
is_ledger='^[0-9]+; [0-9]+ [0-9]+ (EXTENSION - baseledger( |$)|COMMENT - EXTENSION baseledger( |$)|SCHEMA - ledger( |$)|COMMENT - SCHEMA ledger( |$))'

if [ "$without_cron" = 1 ]; then
  grep -Ev "$is_cron" <<<"$toc"
  exit 0
fi

# The comment lines, then baseledger's entries, then everything else in the
# dump's order.
grep -E '^;' <<<"$toc" || true
grep -E "$is_ledger" <<<"$toc" || true
grep -Ev "$is_ledger" <<<"$toc" | grep -Ev '^;' || true
