"""The router's benchmark, with pgbench.

1. Overhead of one call: one client, one call per transaction, through the
   router and directly against the shard, on wallets of one shard. The
   difference of the latencies is what the router adds to a call on an idle
   system (its own work plus a second network hop and the shard's parsing of
   the forwarded query).
2. Throughput with 1, 2 and 4 shards: the cluster definition is recreated
   with the first 1, 2 or 4 shards; 8 clients call through the router on 64
   tenants spread over them.

The machine has two cores for pgbench, the router and every shard, so
throughput cannot grow with shards here. What carries over to separate
machines is the CPU each server spends per call: the CPU time of every
process of the router's server and of each shard's server (a postmaster's
own time, its exited children's, and its live children's, from /proc) over
the calls made. README's benchmark section turns these into a prediction.

Results: build/router/bench/results.md (and results.tsv).
"""

import os
import re
import subprocess
import time

from cluster import CLUSTER, RouterCluster

PGBENCH = "/usr/lib/postgresql/15/bin/pgbench"
TICK = os.sysconf("SC_CLK_TCK")
TENANTS = 64

SCRIPTS = {
    # Each tenant's wallet is its root: the figures are the router's cost on
    # the flat path, comparable across versions (a tree's calls write at every
    # level: see bench/README.md for what that costs on one server).
    # A write: a credit with a fresh key (generated where the call is made).
    "credit": "\\set t random(0, {last})\n"
              "SELECT seq FROM ledger.ledger_credit('{prefix}' || :t, 1, "
              "gen_random_uuid()::text);\n",
    # A read.
    "balance": "\\set t random(0, {last})\n"
               "SELECT available FROM ledger.ledger_balance('{prefix}' || :t);\n",
    # A reservation's whole cycle: reserve, then settle what it cost.
    "cycle": "\\set t random(0, {last})\n"
             "SELECT reservation_id AS rid FROM ledger.ledger_reserve('{prefix}' || :t, 10, "
             "'1 minute', gen_random_uuid()::text) \\gset\n"
             "SELECT seq FROM ledger.ledger_settle('{prefix}' || :t, :rid, 7, "
             "gen_random_uuid()::text);\n",
}
CALLS_PER_TX = {"credit": 1, "balance": 1, "cycle": 2}


def server_cpu(server):
    """CPU seconds used by a server's processes so far: the postmaster's own
    and its reaped children's (utime, stime, cutime, cstime), plus its live
    children's."""
    with open(os.path.join(server.datadir, "postmaster.pid"), encoding="ascii") as f:
        pm = int(f.readline())
    total = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", encoding="ascii", errors="replace") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(name), int(fields[1])
        if pid == pm:
            total += sum(int(x) for x in fields[11:15])
        elif ppid == pm:
            total += int(fields[11]) + int(fields[12])
    return total / TICK


def pgbench(server, script, clients, seconds, outdir, label):
    path = os.path.join(outdir, f"{label}.sql")
    with open(path, "w", encoding="utf-8") as f:
        f.write(script)
    cmd = [PGBENCH, "-n", "-M", "prepared", "-c", str(clients), "-j", str(min(clients, 2)),
           "-T", str(seconds), "-f", path]
    r = subprocess.run(cmd, env=server.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    with open(os.path.join(outdir, f"{label}.out"), "w", encoding="utf-8") as f:
        f.write(r.stdout)
    tx = re.search(r"number of transactions actually processed: (\d+)", r.stdout)
    failed = re.search(r"number of failed transactions: (\d+)", r.stdout)
    lat = re.search(r"latency average = ([\d.]+) ms", r.stdout)
    tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", r.stdout)
    if r.returncode != 0 or not tx or not tps:
        raise RuntimeError(f"pgbench {label} failed:\n{r.stdout[-1500:]}")
    return {"tx": int(tx.group(1)), "failed": int(failed.group(1)) if failed else 0,
            "latency_ms": float(lat.group(1)) if lat else None, "tps": float(tps.group(1))}


def measured(rc, servers, fn):
    """Runs fn(); returns its result and the CPU seconds of each server."""
    before = [server_cpu(s) for s in servers]
    res = fn()
    time.sleep(0.5)  # let the pgbench backends exit and be reaped
    after = [server_cpu(s) for s in servers]
    return res, [a - b for a, b in zip(after, before)]


def set_partitions(rc, n):
    with rc.router.connect() as c:
        c.execute(f"DROP SERVER IF EXISTS {CLUSTER} CASCADE")
        RouterCluster.define_cluster(c, [s.connstr() for s in rc.shards[:n]])


def seed_wallets(rc, prefix, tenants):
    with rc.router.connect() as c:
        for t in tenants:
            w = f"{prefix}{t}"
            c.execute("SELECT ledger.ledger_create_wallet(%s)", (w,))
            c.execute("SELECT ledger.ledger_credit(%s, 1000000000, 'seed')", (w,))


def run(rc, args, tally):
    quick = args.quick
    secs = 3 if quick else 15
    outdir = os.path.join(args.out, "bench")
    os.makedirs(outdir, exist_ok=True)
    load_before = load_average()
    rows = []  # (test, config, clients, tps, calls/s, latency, router us/call, shard us/call, note)

    # ------------------------------------------------ 1. overhead of one call
    set_partitions(rc, rc.n)
    rc.reset_shards()
    # Tenants whose wallets live on partition 0, numbered 0..k-1 for pgbench.
    with rc.router.connect() as c:
        p0 = [i for i in range(400)
              if c.execute("SELECT ledger.ledger_router_partition(%s)",
                           (f"x{i}",)).fetchone()[0] == 0]
    # pgbench picks one of them at random (see remap): the same wallets on
    # either path.
    k = min(len(p0), 32)
    seed_wallets(rc, "x", p0[:k])
    overhead = {}
    workloads = ["credit", "balance"] if quick else ["credit", "balance", "cycle"]
    for wl in workloads:
        for path, server in (("direct", rc.shards[0]), ("router", rc.router)):
            script = SCRIPTS[wl].replace("'{prefix}' || :t", "'x' || :t")
            # Only partition-0 tenants: pick among them with pgbench's random.
            script = script.replace("\\set t random(0, {last})\n",
                                    "\\set i random(0, %d)\n\\set t :i\n" % (k - 1))
            script = remap(script, p0[:k])
            res, cpu = measured(rc, [rc.router, rc.shards[0]],
                                lambda: pgbench(server, script, 1, secs, outdir,
                                                f"overhead-{wl}-{path}"))
            calls = res["tx"] * CALLS_PER_TX[wl]
            overhead[(wl, path)] = res
            rows.append(("overhead", f"{wl}, {path}", 1, res["tps"],
                         res["tps"] * CALLS_PER_TX[wl], res["latency_ms"],
                         1e6 * cpu[0] / calls if path == "router" else 0.0,
                         1e6 * cpu[1] / calls, f"{res['failed']} failed"))
            tally.add(res["tx"] > 0 and res["failed"] == 0, f"bench: {wl} {path} ran",
                      f"{res['tps']:.0f} tx/s, {res['latency_ms']} ms")
    # A refused call: PL/Proxy leaves the shard's connection unread after an
    # error and reconnects on the next call, so an error costs a connection.
    # The empty wallet is another root of partition 0, never funded.
    empty = f"x{p0[k]}" if len(p0) > k else f"x{p0[0]}/empty"
    with rc.router.connect() as c:
        c.execute("SELECT ledger.ledger_create_wallet(%s)", (empty,))
    n_err = 300 if quick else 2000
    for path, server in (("direct", rc.shards[0]), ("router", rc.router)):
        def refused():
            with server.connect() as c:
                c.execute("SET client_min_messages = warning")
                t = time.perf_counter()
                for i in range(n_err):
                    try:
                        c.execute("SELECT ledger.ledger_debit(%s, 1, %s)",
                                  (empty, f"e{i}"))
                    except Exception:  # noqa: BLE001 - LB001 is the point
                        pass
                return time.perf_counter() - t
        wall, cpu = measured(rc, [rc.router, rc.shards[0]], refused)
        rows.append(("overhead", f"refused debit (LB001), {path}", 1, n_err / wall, n_err / wall,
                     1000 * wall / n_err, 1e6 * cpu[0] / n_err if path == "router" else 0.0,
                     1e6 * cpu[1] / n_err, "one call after another"))
    # ------------------------------------------------ 2. throughput, 1/2/4 shards
    clients = 8
    configs = [1, 2, 4] if not quick else [1, 4]
    for n in configs:
        set_partitions(rc, n)
        rc.reset_shards()
        seed_wallets(rc, "t", range(TENANTS))
        for wl in (["credit"] if quick else ["credit", "cycle"]):
            script = SCRIPTS[wl].format(prefix="t", last=TENANTS - 1)
            servers = [rc.router] + rc.shards[:n]
            count_sql = "SELECT count(*) FROM ledger.events WHERE idempotency_key <> 'seed'"
            start = [r[0][0] for r in rc.shard_rows(count_sql)][:n]
            res, cpu = measured(rc, servers,
                                lambda: pgbench(rc.router, script, clients, secs, outdir,
                                                f"throughput-{wl}-{n}shards"))
            calls = res["tx"] * CALLS_PER_TX[wl]
            per_shard = [r[0][0] - s0 for r, s0 in zip(rc.shard_rows(count_sql), start)]
            shard_cpu = sum(cpu[1:])
            rows.append(("throughput", f"{wl}, {n} shard(s)", clients, res["tps"],
                         res["tps"] * CALLS_PER_TX[wl], res["latency_ms"],
                         1e6 * cpu[0] / calls, 1e6 * shard_cpu / calls,
                         "calls per shard/s: " + ", ".join(
                             f"{e / secs:.0f}" for e in per_shard)))
            tally.add(res["tx"] > 0 and res["failed"] == 0,
                      f"bench: {wl} through the router on {n} shard(s) ran",
                      f"{res['tps']:.0f} tx/s")
    # A baseline without the router: the same clients directly on one shard.
    set_partitions(rc, rc.n)
    rc.reset_shards()
    # Directly, every tenant is on the one server the clients connect to.
    with rc.shards[0].connect() as c:
        c.execute("SET client_min_messages = warning")
        c.execute("DROP EXTENSION baseledger CASCADE")
        c.execute("CREATE EXTENSION baseledger")
        for t in range(TENANTS):
            c.execute("SELECT ledger.ledger_create_wallet(%s)", (f"t{t}",))
            c.execute("SELECT ledger.ledger_credit(%s, 1000000000, 'seed')", (f"t{t}",))
    for wl in (["credit"] if quick else ["credit", "cycle"]):
        script = SCRIPTS[wl].format(prefix="t", last=TENANTS - 1)
        res, cpu = measured(rc, [rc.shards[0]],
                            lambda: pgbench(rc.shards[0], script, clients, secs, outdir,
                                            f"throughput-{wl}-direct"))
        calls = res["tx"] * CALLS_PER_TX[wl]
        rows.append(("throughput", f"{wl}, 1 server, no router", clients, res["tps"],
                     res["tps"] * CALLS_PER_TX[wl], res["latency_ms"], 0.0,
                     1e6 * cpu[0] / calls, ""))
        tally.add(res["tx"] > 0 and res["failed"] == 0, f"bench: {wl} directly ran",
                  f"{res['tps']:.0f} tx/s")
    report(rows, outdir, secs, load_before)


def remap(script, tenants):
    """pgbench picks an index i; the wallet is x<tenants[i]>. The list is
    passed as an array literal indexed on the server."""
    arr = "ARRAY[" + ",".join(str(t) for t in tenants) + "]"
    return script.replace("'x' || :t", f"'x' || ({arr})[:i + 1]")


def load_average():
    with open("/proc/loadavg", encoding="ascii") as f:
        return " ".join(f.read().split()[:3])


def report(rows, outdir, secs, load_before):
    head = ("| test | configuration | clients | tx/s | calls/s | latency ms | "
            "router CPU us/call | shards' CPU us/call | note |")
    lines = [f"Runs of {secs} s each on {os.cpu_count()} cores; load average "
             f"{load_before} before and {load_average()} after. CPU per call is the CPU "
             "time of the servers' processes over the calls made.", "", head,
             "|---|---|---|---|---|---|---|---|---|"]
    for t, cfg, cl, tps, cps, lat, rcpu, scpu, note in rows:
        lines.append(f"| {t} | {cfg} | {cl} | {tps:.0f} | {cps:.0f} | {lat:.3f} | "
                     f"{rcpu:.0f} | {scpu:.0f} | {note} |")
    text = "\n".join(lines) + "\n"
    with open(os.path.join(outdir, "results.md"), "w", encoding="utf-8") as f:
        f.write(text)
    with open(os.path.join(outdir, "results.tsv"), "w", encoding="utf-8") as f:
        for r in rows:
            f.write("\t".join(str(x) for x in r) + "\n")
    print(text, flush=True)
