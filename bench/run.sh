#!/usr/bin/env bash
# Usage: bash bench/run.sh [--quick] [--duration S] [--clients "8 32"] [--out DIR]
#                          [--workloads LIST] [--destdir DIR]
#
# The benchmark suite. Starts its own throwaway PostgreSQL 15 cluster with the
# durable configuration below, loads funded wallets, runs every workload with
# pgbench at each client count, and prints one table: throughput, p50 and p99
# latency, and the ratio to a bare durable INSERT measured in the same run at
# the same client count. The extension must be built and installed first
# (make && make install). See bench/README.md.
#
#   --quick       CI smoke run: 2 s per workload, 8 clients, 1,000 wallets,
#                 10,000 expiring holds, 1,000 cycles for the storage figure
#   --duration S  seconds per workload and client count (default 30)
#   --clients L   client counts, space separated (default "8 32")
#   --out DIR     where results.tsv, table.md and pgbench's logs go
#                 (default build/bench, or build/bench-quick with --quick)
#   --destdir DIR use the extension installed under DIR by
#                 `make install DESTDIR=DIR` instead of the system-wide one
#                 (Debian's extension_destdir), to measure a build in peace
#   --workloads L only these workloads (comma or space separated; default
#                 all): storage reserve reserve_plpgsql cycle hot hierarchy
#                 balance batch_reserve batch_cycle expire. The hierarchy's
#                 ratio to the flat cycle needs cycle in the same run.
#
# Exits non-zero when a workload breaks (an error, an aborted client, a wrong
# count), never because of a timing.
set -euo pipefail

# The whole script is one function, read in full before it runs, so that
# editing bench/ during a long run cannot change the run.
main() {
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")

# The cluster's configuration: durable, and sized so that no checkpoint falls
# inside a measurement (run.sh issues CHECKPOINT before each one instead).
# pg_virtualenv turns fsync off unless told otherwise.
cluster_conf=(
  fsync=on
  synchronous_commit=on
  full_page_writes=on
  wal_sync_method=fdatasync
  wal_level=replica
  shared_buffers=1GB
  wal_buffers=16MB
  max_wal_size=8GB
  checkpoint_timeout=30min
  max_connections=100
  autovacuum=on
  jit=off
)

quick=0
duration=
workloads=
clients=
out=
destdir=
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1 ;;
    --duration)
      duration=${2:?--duration needs seconds}
      shift
      ;;
    --duration=*) duration=${1#*=} ;;
    --clients)
      clients=${2:?--clients needs a list}
      shift
      ;;
    --clients=*) clients=${1#*=} ;;
    --out)
      out=${2:?--out needs a directory}
      shift
      ;;
    --out=*) out=${1#*=} ;;
    --destdir)
      destdir=${2:?--destdir needs a directory}
      shift
      ;;
    --destdir=*) destdir=${1#*=} ;;
    --workloads)
      workloads=${2:?--workloads needs a list}
      shift
      ;;
    --workloads=*) workloads=${1#*=} ;;
    -h | --help)
      sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "run.sh: unknown argument $1 (try --help)" >&2
      exit 2
      ;;
  esac
  shift
done

if [ "$quick" = 1 ]; then
  : "${duration:=2}" "${clients:=8}" "${out:=$repo/build/bench-quick}"
  wallets=1000
  expire_holds=10000
  storage_cycles=1000
else
  : "${duration:=30}" "${clients:=8 32}" "${out:=$repo/build/bench}"
  wallets=10000
  expire_holds=100000
  storage_cycles=20000
fi
batch=1000
# The hierarchy workload's tree: one org, 10 teams, 10 agents per team.
tree_teams=10
tree_agents=10

all_workloads="storage reserve reserve_plpgsql cycle hot hierarchy balance batch_reserve batch_cycle expire"
workloads=$(tr ',' ' ' <<<"${workloads:-$all_workloads}" | xargs)
for w in $workloads; do
  case " $all_workloads " in
    *" $w "*) ;;
    *)
      echo "run.sh: unknown workload $w (one of: $all_workloads)" >&2
      exit 2
      ;;
  esac
done
# wanted KEY: whether this run measures the workload KEY.
wanted() { case " $workloads " in *" $1 "*) return 0 ;; esac; return 1; }

if [ "${BENCH_IN_CLUSTER:-}" != 1 ]; then
  # A random free port, as scripts/with-cluster.sh does, so that two runs on
  # one machine do not collide.
  for _ in $(seq 1 50); do
    PGPORT=$((20000 + RANDOM % 20000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$PGPORT") 2>/dev/null &&
      [ ! -e "/var/run/postgresql/.s.PGSQL.$PGPORT" ]; then
      break
    fi
  done
  export PGPORT BENCH_IN_CLUSTER=1
  opts=()
  for o in "${cluster_conf[@]}"; do opts+=(-o "$o"); done
  if [ -n "$destdir" ]; then
    destdir=$(cd "$destdir" && pwd)
    if [ ! -f "$destdir/usr/share/postgresql/15/extension/baseledger.control" ]; then
      echo "run.sh: no baseledger installed under $destdir" >&2
      exit 2
    fi
    opts+=(-o "extension_destdir=$destdir")
  fi
  # -t keeps the cluster in a private temporary directory even as root.
  exec pg_virtualenv -t -v 15 "${opts[@]}" bash "$0" --duration "$duration" \
    --clients "$clients" --out "$out" ${destdir:+--destdir "$destdir"} \
    --workloads "$workloads" $([ "$quick" = 1 ] && echo --quick)
fi
unset BENCH_IN_CLUSTER

# ---------------------------------------------------------------- set-up

mkdir -p "$out"
out=$(cd "$out" && pwd)
logs="$out/logs"
rm -rf "$logs"
mkdir -p "$logs"
results="$out/results.tsv"
: >"$results"
failures=0
point=0

export PGDATABASE=bench
psql_q() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }

say() { printf '%s\n' "$*"; }

say "==> creating database bench: $wallets wallets, the baseline table, the PL/pgSQL reference"
createdb bench
started=$(date +%s)
psql_q -v wallets="$wallets" -f "$here/setup.sql" >"$logs/setup.out"
say "    loaded in $(($(date +%s) - started)) s"

# The hierarchy workload needs wallet trees (baseledger 0.3.0): on an older
# build its rows say "not available". Once the version has them, a failure to
# load the tree is a failure of the run.
extversion=$(psql_q -c "SELECT extversion FROM pg_extension WHERE extname = 'baseledger'")
hierarchy_available=$(psql_q -c "SELECT string_to_array('$extversion', '.')::int[] >= '{0,3,0}'")
if wanted hierarchy && [ "$hierarchy_available" = t ]; then
  say "==> the hierarchy's tree: org, $tree_teams teams, $((tree_teams * tree_agents)) agents"
  if ! psql_q -v teams="$tree_teams" -v agents="$tree_agents" -f "$here/hierarchy_setup.sql" \
    >"$logs/hierarchy-setup.out" 2>&1; then
    say "    loading the tree failed: $(grep -m1 ERROR "$logs/hierarchy-setup.out" || tail -1 "$logs/hierarchy-setup.out")"
    hierarchy_available=broken
  fi
fi

mem_kb=$(awk '/^MemTotal/ {print $2}' /proc/meminfo)
cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
datadir=$(psql_q -c 'SHOW data_directory')
machine="$(nproc) CPUs (${cpu:-unknown}), $((mem_kb / 1024 / 1024)) GiB memory, Linux $(uname -r)"
pgversion=$(psql_q -c "SELECT split_part(version(), ' on ', 1)")
settings=$(psql_q -F '=' -c "SELECT name, setting || coalesce(unit, '') FROM pg_settings
  WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'wal_sync_method',
                 'wal_level', 'shared_buffers', 'wal_buffers', 'max_wal_size',
                 'checkpoint_timeout', 'max_connections', 'autovacuum', 'jit',
                 'max_locks_per_transaction', 'shared_preload_libraries')
  ORDER BY name" | paste -sd' ')
filesystem=$(df -PT "$datadir" | awk 'NR == 2 {print $2 " on " $1}')
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
library="${destdir}$(/usr/lib/postgresql/15/bin/pg_config --pkglibdir)/baseledger.so"
library="$library (built $(date -u -r "$library" '+%Y-%m-%d %H:%M UTC' 2>/dev/null || echo '?'))"

say "    machine:   $machine"
say "    server:    $pgversion, data on $filesystem"
say "    settings:  $settings"
say "    extension: $library"
say "    load average at start: $load_start (a shared, noisy machine: compare ratios, not absolutes)"

# One result row: key, label, clients, status, rate, unit, p50 ms, p99 ms,
# note, WAL bytes per transaction, CPU busy %.
record() {
  local fields=("$@")
  while [ ${#fields[@]} -lt 11 ]; do fields+=(-); done
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "${fields[@]}" >>"$results"
}

# The machine's CPU time counters (all CPUs): "busy total" in clock ticks.
cpu_ticks() {
  awk '/^cpu / {t = 0; for (i = 2; i <= 9; i++) t += $i; print t - $5 - $6, t}' /proc/stat
}

# Percentile (nearest rank) of the latencies, in microseconds, of column 3 of
# pgbench's per-transaction logs; printed in milliseconds.
percentiles() {
  cat "$@" | awk '{print $3}' | sort -n | awk '
    { v[NR] = $1 }
    END {
      if (NR == 0) { print "- -"; exit }
      i50 = int(NR * 0.50); if (i50 < NR * 0.50) i50++
      i99 = int(NR * 0.99); if (i99 < NR * 0.99) i99++
      printf "%.3f %.3f\n", v[i50] / 1000, v[i99] / 1000
    }'
}

# run_point KEY LABEL SCRIPT CLIENTS ROWS_PER_TRANSACTION UNIT
# Runs one pgbench measurement and records its row. ROWS_PER_TRANSACTION
# turns pgbench's transactions (one run of the script) into the unit counted.
run_point() {
  local key=$1 label=$2 script=$3 c=$4 per=$5 unit=$6
  point=$((point + 1))
  local name="$point-$key-c$c"
  psql_q -c CHECKPOINT
  local rc=0 lsn0 lsn1 busy0 total0 busy1 total1
  lsn0=$(psql_q -c 'SELECT pg_current_wal_insert_lsn()')
  read -r busy0 total0 < <(cpu_ticks)
  pgbench -n -f "$here/$script" -c "$c" -j 2 -T "$duration" -M prepared \
    -D n=0 -D run="$point" -D wallets="$wallets" -D batch="$batch" \
    -D teams="$tree_teams" -D agents="$tree_agents" -l --log-prefix="$logs/$name" >"$logs/$name.out" 2>&1 || rc=$?
  read -r busy1 total1 < <(cpu_ticks)
  lsn1=$(psql_q -c 'SELECT pg_current_wal_insert_lsn()')
  local tps processed
  tps=$(sed -nE 's/^tps = ([0-9.]+) .*/\1/p' "$logs/$name.out" | tail -1)
  processed=$(sed -nE 's/^number of transactions actually processed: ([0-9]+).*/\1/p' \
    "$logs/$name.out" | tail -1)
  if [ "$rc" -ne 0 ] || [ -z "$tps" ] || [ "${processed:-0}" -eq 0 ]; then
    local why
    why=$(grep -m1 -E 'ERROR|error|FATAL' "$logs/$name.out" | tr '\t' ' ' | cut -c1-160 || true)
    record "$key" "$label" "$c" FAILED - "$unit" - - "pgbench exit $rc: ${why:-no transactions}"
    say "    $label, $c clients: FAILED (pgbench exit $rc) ${why:-}"
    failures=$((failures + 1))
    return 0
  fi
  local rate p50 p99 wal busy
  rate=$(awk -v t="$tps" -v p="$per" 'BEGIN {printf "%.1f", t * p}')
  read -r p50 p99 < <(percentiles "$logs/$name".[0-9]*)
  # WAL per transaction: per call for single calls, per batch of elements for
  # batches (per = rows per script run; cycles and batch cycles commit twice).
  wal=$(psql_q -c "SELECT round(pg_wal_lsn_diff('$lsn1', '$lsn0') / ($processed * $per))")
  busy=$(awk -v b=$((busy1 - busy0)) -v t=$((total1 - total0)) 'BEGIN {printf "%.0f", t ? 100 * b / t : 0}')
  record "$key" "$label" "$c" ok "$rate" "$unit" "$p50" "$p99" "$processed transactions" "$wal" "$busy"
  say "    $label, $c clients: $rate $unit, p50 $p50 ms, p99 $p99 ms, WAL $wal B/row," \
    "CPU $busy% busy ($processed transactions)"
}

# paired KEY LABEL SCRIPT CLIENTS ROWS_PER_TRANSACTION UNIT
# The machine is shared and its load drifts: every workload is measured right
# after its own baseline run, and its ratios are to that run.
paired() {
  # The same yardstick every time: the baseline table starts empty.
  psql_q -c 'TRUNCATE bench_baseline'
  run_point baseline "baseline INSERT" baseline.sql "$4" 1 inserts/s
  run_point "$@"
}

# The batch functions may not exist yet: their workloads are then reported as
# not available. A function of that name with another signature is a failure,
# so that a changed signature is not silently skipped.
batch_available() {
  local name=$1 signature=$2
  if [ "$(psql_q -c "SELECT to_regprocedure('$signature') IS NOT NULL")" = t ]; then
    return 0
  fi
  if [ "$(psql_q -c "SELECT count(*) FROM pg_proc
        WHERE proname = '$name' AND pronamespace = 'ledger'::regnamespace")" != 0 ]; then
    return 2
  fi
  return 1
}
reserve_batch_sig='ledger.ledger_reserve_batch(text[],bigint[],interval[],text[],jsonb[])'
settle_batch_sig='ledger.ledger_settle_batch(text[],uuid[],bigint[],text[],jsonb[])'

run_batch_point() {
  local key=$1 label=$2 script=$3 c=$4 per=$5
  shift 5
  local f sig rc
  for f in "$@"; do
    sig=$reserve_batch_sig
    [ "$f" = ledger_settle_batch ] && sig=$settle_batch_sig
    rc=0
    batch_available "$f" "$sig" || rc=$?
    if [ "$rc" = 1 ]; then
      record "$key" "$label" "$c" skipped - rows/s - - "not available: no function $sig"
      say "    $label, $c clients: not available ($f does not exist in this build)"
      return 0
    elif [ "$rc" = 2 ]; then
      record "$key" "$label" "$c" FAILED - rows/s - - "$f exists, but not as $sig: update bench/"
      say "    $label, $c clients: FAILED ($f has another signature than $sig)"
      failures=$((failures + 1))
      return 0
    fi
  done
  paired "$key" "$label" "$script" "$c" "$per" rows/s
}

run_hierarchy_point() {
  local c=$1 label="reserve + settle, random agents of one tree (org, $tree_teams teams, $((tree_teams * tree_agents)) agents)"
  if [ "$hierarchy_available" = f ]; then
    record hierarchy "$label" "$c" skipped - calls/s - - "not available: baseledger $extversion has no wallet trees"
    say "    $label, $c clients: not available (baseledger $extversion)"
  elif [ "$hierarchy_available" = broken ]; then
    record hierarchy "$label" "$c" FAILED - calls/s - - "the tree could not be loaded: see logs/hierarchy-setup.out"
    say "    $label, $c clients: FAILED (the tree could not be loaded)"
    failures=$((failures + 1))
  else
    paired hierarchy "$label" hierarchy.sql "$c" 2 calls/s
    # The ratio to the flat cycle measured at the same client count, if any.
    awk -F'\t' -v c="$c" '$3 == c && $4 == "ok" && $1 == "cycle" {f = $5}
      $3 == c && $4 == "ok" && $1 == "hierarchy" {h = $5}
      END {if (f > 0 && h > 0) printf "    the tree: %.2fx the calls/s of the flat cycle\n", h / f}' "$results"
  fi
}

# ---------------------------------------------------------------- storage

# Bytes on disk per reserve + settle cycle: the three ledger tables with
# their indexes (and TOAST, free space and visibility maps), after VACUUM,
# before and after the cycles, divided by the number of cycles.
if wanted storage; then
  say "==> storage: $storage_cycles reserve + settle cycles on random wallets, 8 clients"
  size_query="SELECT pg_total_relation_size('ledger.events') || ' ' ||
    pg_total_relation_size('ledger.reservations') || ' ' || pg_total_relation_size('ledger.wallets') || ' ' ||
    (SELECT count(*) FROM ledger.events WHERE kind = 'settle')"
  psql_q -c 'VACUUM ledger.events, ledger.reservations, ledger.wallets'
  read -r ev0 rs0 wa0 settles0 < <(psql_q -c "$size_query")
  rc=0
  pgbench -n -f "$here/cycle.sql" -c 8 -j 2 -t $((storage_cycles / 8)) -M prepared \
    -D n=0 -D run=storage -D wallets="$wallets" >"$logs/storage.out" 2>&1 || rc=$?
  psql_q -c 'VACUUM ledger.events, ledger.reservations, ledger.wallets'
  read -r ev1 rs1 wa1 settles1 < <(psql_q -c "$size_query")
  cycles=$((settles1 - settles0))
  if [ "$rc" -ne 0 ] || [ "$cycles" -ne $((storage_cycles / 8 * 8)) ]; then
    record storage "storage per reserve + settle cycle" - FAILED - bytes/cycle - - \
      "pgbench exit $rc, $cycles cycles of $((storage_cycles / 8 * 8))"
    say "    FAILED: pgbench exit $rc, $cycles settle events written"
    failures=$((failures + 1))
  else
    per_cycle=$(awk -v d=$((ev1 + rs1 + wa1 - ev0 - rs0 - wa0)) -v n="$cycles" 'BEGIN {printf "%.0f", d / n}')
    detail=$(awk -v e=$((ev1 - ev0)) -v r=$((rs1 - rs0)) -v w=$((wa1 - wa0)) -v n="$cycles" \
      'BEGIN {printf "events %.0f, reservations %.0f, wallets %.0f bytes per cycle", e / n, r / n, w / n}')
    record storage "storage per reserve + settle cycle" - ok "$per_cycle" bytes/cycle - - \
      "$cycles cycles: $detail"
    say "    $per_cycle bytes per cycle ($detail)"
  fi
fi

# ---------------------------------------------------------------- statistics

# The ledger prepares its statements once per backend, and a plan made while
# the planner's statistics said ledger.reservations was empty (a sequential
# scan) stays for a whole measurement. So the tables get some history first
# (the storage step's cycles, or 2,000 of their own when it is skipped, and
# 1,000 in the tree), then fresh statistics.
say "==> history and statistics before the measurements"
prime_rc=0
if ! wanted storage; then
  pgbench -n -f "$here/cycle.sql" -c 8 -j 2 -t 250 -M prepared -D n=0 -D run=prime \
    -D wallets="$wallets" >"$logs/prime.out" 2>&1 || prime_rc=$?
fi
if wanted hierarchy && [ "$hierarchy_available" = t ]; then
  pgbench -n -f "$here/hierarchy.sql" -c 8 -j 2 -t 125 -M prepared -D n=0 -D run=prime \
    -D teams="$tree_teams" -D agents="$tree_agents" >"$logs/prime-tree.out" 2>&1 || prime_rc=$?
fi
if [ "$prime_rc" -ne 0 ]; then
  say "    FAILED: pgbench exit $prime_rc (see $logs/prime*.out)"
  record prime "history before the measurements" - FAILED - cycles - - "pgbench exit $prime_rc"
  failures=$((failures + 1))
fi
psql_q -c 'VACUUM ANALYZE ledger.events, ledger.reservations, ledger.wallets'

# ---------------------------------------------------------------- throughput

for c in $clients; do
  say "==> $c clients, $duration s per workload"
  # An untimed warm-up: connections, caches and the baseline table's first
  # pages, so that the first measurement does not pay for them.
  pgbench -n -f "$here/baseline.sql" -c "$c" -j 2 -T $((duration < 5 ? 1 : 5)) -M prepared \
    -D n=0 -D run="warm$c" >"$logs/warmup-c$c.out" 2>&1 || true
  ! wanted reserve || paired reserve "reserve, random wallets" reserve.sql "$c" 1 calls/s
  ! wanted reserve_plpgsql ||
    paired reserve_plpgsql "reserve, PL/pgSQL reference" reserve_plpgsql.sql "$c" 1 calls/s
  ! wanted cycle || paired cycle "reserve + settle, random wallets" cycle.sql "$c" 2 calls/s
  ! wanted hot || paired hot "reserve + settle, one hot wallet" hot.sql "$c" 2 calls/s
  ! wanted hierarchy || run_hierarchy_point "$c"
  ! wanted balance || paired balance "ledger_balance, random wallets" balance.sql "$c" 1 reads/s
  ! wanted batch_reserve ||
    run_batch_point batch_reserve "reserve_batch of $batch" batch_reserve.sql "$c" "$batch" \
      ledger_reserve_batch
  ! wanted batch_cycle ||
    run_batch_point batch_cycle "reserve_batch + settle_batch of $batch" batch_cycle.sql "$c" \
      $((2 * batch)) ledger_reserve_batch ledger_settle_batch
done

# ---------------------------------------------------------------- expiry

# Holds with a 10-minute ttl, created in transactions of 2,000 calls (the
# ledger's advisory locks are held to commit), then found lapsed by moving
# the ledger's clock 20 minutes ahead in the sweeping session only.
if wanted expire; then
  say "==> ledger_expire: $expire_holds lapsed holds over $wallets wallets"
  started=$(date +%s)
  {
    echo '\set ON_ERROR_STOP 1'
    for ((lo = 1; lo <= expire_holds; lo += 2000)); do
      hi=$((lo + 1999 < expire_holds ? lo + 1999 : expire_holds))
      echo "SELECT count(*) FROM generate_series($lo, $hi) g,
        ledger.ledger_reserve('w' || (1 + g % $wallets), 1, '10 minutes', 'x' || g) r;"
    done
  } | psql_q >"$logs/expire-setup.out" 2>&1 || {
    say "    creating the holds failed: $(tail -1 "$logs/expire-setup.out")"
  }
  say "    $expire_holds holds created in $(($(date +%s) - started)) s"
  psql_q -c CHECKPOINT
  rc=0
  psql -X -At -v ON_ERROR_STOP=1 >"$logs/expire.out" 2>&1 <<SQL || rc=$?
SET baseledger.clock_offset = '20min';
\timing on
SELECT ledger.ledger_expire($expire_holds);
SQL
  expired=$(grep -m1 -E '^[0-9]+$' "$logs/expire.out" || true)
  ms=$(sed -nE 's/^Time: ([0-9.]+) ms.*/\1/p' "$logs/expire.out" | tail -1)
  if [ "$rc" -ne 0 ] || [ -z "$expired" ] || [ -z "$ms" ] || [ "$expired" -ne "$expire_holds" ]; then
    why=$(grep -m1 -E 'ERROR' "$logs/expire.out" | cut -c1-160 || true)
    record expire "ledger_expire($expire_holds)" 1 FAILED - expirations/s - - \
      "psql exit $rc, ${expired:-no} expirations of $expire_holds ${why}"
    say "    FAILED: ${expired:-no} expirations of $expire_holds ${why}"
    failures=$((failures + 1))
  else
    rate=$(awk -v n="$expired" -v ms="$ms" 'BEGIN {printf "%.1f", n / (ms / 1000)}')
    record expire "ledger_expire($expire_holds)" 1 ok "$rate" expirations/s - - \
      "$expired expirations in one call, $ms ms including commit"
    say "    $expired expirations in $ms ms: $rate expirations/s"
  fi
fi

# ---------------------------------------------------------------- the table

load_end=$(cut -d' ' -f1-3 /proc/loadavg)
consistent=$(psql_q -c 'SELECT count(*) FROM ledger.ledger_verify()')
if [ "$consistent" != 0 ]; then
  say "    ledger_verify() reports $consistent problems after the run"
  record verify "ledger_verify() after the run" - FAILED - problems - - "$consistent problems"
  failures=$((failures + 1))
fi

table() {
  # Two passes over results.tsv: the baselines' summary per client count,
  # then the rows, each workload against the baseline run just before it.
  awk -F'\t' '
    function fmt(x) {  # thousands separators; no decimals from 100 up
      if (x == "-" || x == "") return "-"
      x = (x + 0 >= 100) ? sprintf("%.0f", x) : sprintf("%.1f", x)
      ip = x; dp = ""
      if (index(x, ".")) { ip = substr(x, 1, index(x, ".") - 1); dp = substr(x, index(x, ".")) }
      out = ""
      while (length(ip) > 3) { out = "," substr(ip, length(ip) - 2) out; ip = substr(ip, 1, length(ip) - 3) }
      return ip out dp
    }
    function ratio(a, b) { return (a == "-" || a == "" || b == "" || b + 0 == 0) ? "-" : sprintf("%.2fx", a / b) }
    function row(label, c, shown, base, p50, p99, r, q, target, wal, cpu) {
      printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", label, c, shown, p50, p99, base, r, q, target, wal, (cpu == "-" || cpu == "" ? "-" : cpu "%")
    }
    NR == FNR {
      if ($1 == "baseline" && $4 == "ok") {
        c = $3; bn[c]++; bs[c] += $5; b50[c] += $7; b99[c] += $8; bw[c] += $10; bc[c] += $11
        if (!(c in bmin) || $5 < bmin[c]) bmin[c] = $5
        if (!(c in bmax) || $5 > bmax[c]) bmax[c] = $5
      }
      if ($1 == "reserve" && $4 == "ok") res[$3] = $5
      if ($1 == "reserve_plpgsql" && $4 == "ok") pl[$3] = $5
      if ($1 == "cycle" && $4 == "ok") cyc[$3] = $5
      next
    }
    FNR == 1 {
      print "| workload | clients | rate | p50 ms | p99 ms | paired baseline | rate / baseline | p99 / baseline p99 | target (issue 4) | WAL B/row | CPU busy |"
      print "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|"
    }
    {
      key = $1; label = $2; c = $3; st = $4; rate = $5; unit = $6; p50 = $7; p99 = $8
      wal = $10; cpu = $11
      if (key == "baseline") {
        if (st == "ok") { base[c] = rate; basep99[c] = p99 } else { base[c] = ""; basep99[c] = "" }
        if (!(c in shown_summary) && bn[c]) {
          shown_summary[c] = 1
          row(sprintf("baseline INSERT: mean of %d runs, one before each workload (range %s to %s)", bn[c], fmt(bmin[c]), fmt(bmax[c])),
              c, fmt(bs[c] / bn[c]) " inserts/s", "-", sprintf("%.3f", b50[c] / bn[c]), sprintf("%.3f", b99[c] / bn[c]),
              "-", "-", "-", sprintf("%.0f", bw[c] / bn[c]), sprintf("%.0f", bc[c] / bn[c]))
        }
        if (st != "ok") row("baseline INSERT", c, "FAILED", "-", "-", "-", "-", "-", "-", "-", "-")
        next
      }
      r = "-"; q = "-"; target = "-"; b = "-"
      paired = (key != "storage" && key != "expire" && st == "ok" && base[c] != "")
      if (paired) { b = fmt(base[c]); r = ratio(rate, base[c]); q = ratio(p99, basep99[c]) }
      if (key == "reserve") {
        target = ">= 0.80x rate"
        if (c == 8) target = target ", p99 <= 3x"
        if (paired) {
          met = (rate / base[c] >= 0.8)
          if (c == 8) met = met && (p99 / basep99[c] <= 3)
          target = target (met ? " (met)" : " (not met)")
        }
      } else if (key == "hot") {
        target = ">= 0.50x" (paired ? (rate / base[c] >= 0.5 ? " (met)" : " (not met)") : "")
      } else if (key ~ /^batch/) {
        target = ">= 15x rows/s" (paired ? (rate / base[c] >= 15 ? " (met)" : " (not met)") : "")
      } else if (key == "expire") {
        target = ">= 50,000/s" (st == "ok" ? (rate >= 50000 ? " (met)" : " (not met)") : "")
      } else if (key == "storage") {
        target = "<= 500 bytes" (st == "ok" ? (rate <= 500 ? " (met)" : " (not met)") : "")
      } else if (key == "reserve_plpgsql" && (c in res) && (c in pl)) {
        target = sprintf("none; baseledger reserve = %.2fx this", res[c] / pl[c])
      } else if (key == "hierarchy" && st == "ok") {
        target = (c in cyc) ? sprintf("none; %.2fx the flat cycle", rate / cyc[c]) : "none"
      }
      shown = (st == "ok") ? fmt(rate) " " unit : (st == "skipped" ? "not available" : "FAILED")
      row(label, c, shown, b, p50, p99, r, q, target, wal, cpu)
    }' "$results" "$results"
}

{
  echo "baseledger benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $([ "$quick" = 1 ] && echo 'quick (smoke) run' || echo 'full run'): $duration s per workload, clients $clients"
  echo "machine: $machine; load average $load_start at start, $load_end at end (shared machine, other processes running)"
  echo "server: $pgversion, data on $filesystem; extension $library"
  echo "settings: $settings"
  echo "data: $wallets wallets, $batch elements per batch, $expire_holds holds for ledger_expire, $storage_cycles cycles for storage; a tree of 1 org, $tree_teams teams, $((tree_teams * tree_agents)) agents"
  [ "$workloads" = "$all_workloads" ] || echo "workloads: $workloads"
  echo
  table
  echo
  echo "Each row is one pgbench run (-M prepared, -j 2, $duration s); its ratios are to the baseline run made"
  echo "just before it at the same client count. Cycles count 2 calls (2 commits) each, and their"
  echo "p50/p99 are per cycle; batch rows count elements. In the tree each call writes an event"
  echo "at the agent, its team and the org; its ratio to the flat cycle is in the target column."
  echo "WAL B/row is WAL written per counted unit (insert, call, read or element); CPU busy is the"
  echo "whole machine's CPU use during the run, other processes included."
  awk -F'\t' '$4 == "FAILED" {print "FAILED: " $2 " (" $3 " clients): " $9}' "$results"
} >"$out/table.md"

echo
cat "$out/table.md"
echo
say "results: $results; pgbench logs: $logs"
if [ "$failures" -gt 0 ]; then
  say "$failures workload(s) broke"
  exit 1
fi
}

main "$@"
