#!/usr/bin/env bash
# Instructions per ledger_reserve, counted by valgrind's callgrind: stable run
# to run on a shared, noisy machine, so it is how changes to the write path
# are compared. Each reserve is its own transaction, in postgres --single on a
# throwaway data directory with 2,000 funded wallets; two runs (N and 3N
# calls) are subtracted so that start-up and set-up cancel out.
#
#   bash bench/instructions.sh [REV ...]   # default: the working tree
#   PROFILE=1 bash bench/instructions.sh   # also where they go, per reserve
#
# Each REV is built in a temporary worktree and loaded through Debian's
# extension_destdir, so nothing is installed system-wide.
set -euo pipefail
cd "$(dirname "$0")/.."

n=${N:-300}
bindir=$(pg_config --bindir)
work=$(mktemp -d /tmp/baseledger-instr.XXXXXX)
trap 'git worktree prune >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
chmod 755 "$work"
command -v valgrind >/dev/null || { echo "valgrind is needed" >&2; exit 2; }

# Builds the tree in $1 into the destdir $2.
build() {
  (cd "$1" && make -s -j2 >/dev/null && make -s install DESTDIR="$2" >/dev/null)
}

# Prints the instructions spent on $2 reserves with the build in destdir $1.
count() {
  local dest=$1 calls=$2 d
  d=$(mktemp -d "$work/run.XXXX")
  chown -R postgres "$d"
  su postgres -c "$bindir/initdb -D $d/pg -A trust >/dev/null"
  # postgres --single ends a statement at each newline.
  {
    echo "CREATE EXTENSION baseledger;"
    echo "SELECT count(*) FROM (SELECT ledger.ledger_create_wallet('w' || i), ledger.ledger_credit('w' || i, 1000000000, 'c' || i) FROM generate_series(0, 1999) i) s;"
  } >"$d/setup.sql"
  for i in $(seq 1 "$calls"); do
    echo "SELECT ledger.ledger_reserve('w$((i % 2000))', 1, '10 min', 'k$i') IS NOT NULL;"
  done >"$d/work.sql"
  chown -R postgres "$d"
  local opts="-c extension_destdir=$dest -c fsync=off"
  su postgres -c "$bindir/postgres --single -D $d/pg $opts postgres <$d/setup.sql >$d/setup.out 2>&1"
  if grep -q ERROR "$d/setup.out"; then grep -m3 ERROR "$d/setup.out" >&2; exit 1; fi
  su postgres -c "valgrind --tool=callgrind --callgrind-out-file=$d/cg.out \
    $bindir/postgres --single -D $d/pg $opts postgres <$d/work.sql >$d/out.txt 2>$d/vg.txt"
  if grep -q " ERROR: " "$d/vg.txt"; then grep -m3 " ERROR: " "$d/vg.txt" >&2; exit 1; fi
  sed -nE 's/.*Collected : ([0-9]+).*/\1/p' "$d/vg.txt"
  [ -z "${PROFILE:-}" ] || callgrind_annotate --inclusive=yes --threshold=100 "$d/cg.out" >"$work/profile-$calls.txt" 2>/dev/null
  rm -rf "$d"
}

# The inclusive instructions per reserve of the functions that make up the
# write path (the difference between the two runs' profiles, per call).
profile() {
  awk -v calls="$1" '
    # callgrind_annotate lines: "  1,234 (12.34%)  file:function [object]"
    FNR == 1 { run++; listing = 1 }
    /Auto-annotated source/ { listing = 0 }
    listing && $2 ~ /^\(/ && $3 != "" && $3 != "=>" {
      ir = $1; gsub(",", "", ir)
      name = $0; sub(/^ *[0-9,]+ +\([ 0-9.]+%\) +[*]? */, "", name); sub(/ \[.*$/, "", name)
      sub(/^[^:]*:/, "", name)
      if (name ~ /pg_try|pg_call|lambda/) next
      sub(/\(.*$/, "()", name)
      # A function inlined elsewhere is listed again under that file: keep
      # the largest, its own entry.
      if (run == 1) { if (ir + 0 > small[name] + 0) small[name] = ir }
      else if (ir + 0 > big[name] + 0) big[name] = ir
    }
    END {
      n = split("^ledger_reserve$|core::fingerprint[(]|storage::connect[(]|tree_write::lock_path|tree_write::prepare[(]|load_wallet_for_write|find_event_by_key|pg::write[(]|insert_events[(]|insert_reservations[(]|update_wallets[(]|pg::chain[(]|storage::finish|ledger_result|^ExecInsertIndexTuples|^heap_insert$|^heap_update$|^XLogInsert$|^CommitTransactionCommand|^pg_parse_query|^pg_analyze_and_rewrite_fixedparams|^pg_plan_queries", want, "|")
      for (i = 1; i <= n; i++)
        for (f in big)
          if (f ~ want[i] && !(f in shown)) {
            shown[f] = 1
            printf "%9d  %s\n", (big[f] - small[f]) / calls, f
          }
    }' "$work/profile-$n.txt" "$work/profile-$((3 * n)).txt"
}

revs=("$@")
[ ${#revs[@]} -gt 0 ] || revs=(working-tree)
for rev in "${revs[@]}"; do
  dest="$work/dest-$rev"
  if [ "$rev" = working-tree ]; then
    build . "$dest"
  else
    git worktree add -q "$work/tree-$rev" "$rev"
    build "$work/tree-$rev" "$dest"
  fi
  a=$(count "$dest" "$n")
  b=$(count "$dest" $((3 * n)))
  echo "$rev: $(((b - a) / (2 * n))) instructions per ledger_reserve"
  [ -z "${PROFILE:-}" ] || profile $((2 * n))
done
