#!/usr/bin/env bash
# Instructions per ledger_reserve, counted by valgrind's callgrind: stable run
# to run on a shared, noisy machine, so it is how changes to the write path
# are compared. Each reserve is its own transaction, in postgres --single on a
# throwaway data directory with 2,000 funded wallets; two runs (N and 3N
# calls) are subtracted so that start-up and set-up cancel out.
#
#   bash bench/instructions.sh [REV ...]   # default: the working tree
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
  rm -rf "$d"
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
done
