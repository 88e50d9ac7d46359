#!/usr/bin/python3
"""The router's test harness: a PL/Proxy router and four shard servers on
loopback ports (throwaway clusters, see cluster.py), then

  regress      test/router/sql/*.sql through the router (pg_regress); the
               lifecycle and fleet files also directly against one baseledger
               database, with the same expected output
  reliability  the reliability workload's clients through the router and its
               auditor over the union of the shards (test/reliability/)
  fault        one shard stopped in the middle of a run, then restarted
  split        router/README.md's growth procedure, from 2 partitions to 4
  bench        the benchmark (bench.py): router vs direct, 1, 2 and 4 shards

and, after the stages, every shard's ledger_verify() must be clean. Ends with
"N passed, M failed".

    /usr/bin/python3 test/router/run.py [--quick] [--stages regress,fault,...]
"""

import argparse
import os
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

from cluster import RouterCluster  # noqa: E402

PG_REGRESS = "/usr/lib/postgresql/15/lib/pgxs/src/test/regress/pg_regress"


def log(msg):
    print(time.strftime("%H:%M:%S ") + msg, flush=True)


class Tally:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.failures = []

    def add(self, ok, name, detail=""):
        if ok:
            self.passed += 1
            print(f"ok   {name}" + (f": {detail}" if detail else ""), flush=True)
        else:
            self.failed += 1
            self.failures.append(name)
            print(f"FAIL {name}" + (f": {detail}" if detail else ""), flush=True)


def pg_regress(server, tests, outdir, tally, label):
    os.makedirs(outdir, exist_ok=True)
    cmd = [PG_REGRESS, "--use-existing", "--host=127.0.0.1", f"--port={server.port}",
           "--user=postgres", f"--dbname={server.dbname}", f"--inputdir={HERE}",
           f"--outputdir={outdir}"] + tests
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in r.stdout.splitlines():
        line = line.strip()
        for t in tests:
            # "test lifecycle ... ok  1234 ms" / "... FAILED"
            if line.startswith(("test ", "ok ", "not ok ")) and f" {t} " in f" {line} ":
                tally.add(" ok" in f" {line}" and "FAILED" not in line and "not ok" not in line,
                          f"regress {label}: {t}")
    if r.returncode != 0:
        diffs = os.path.join(outdir, "regression.diffs")
        if os.path.exists(diffs):
            with open(diffs, encoding="utf-8") as f:
                print(f.read()[:6000])
        else:
            print(r.stdout[-3000:])
    return r.returncode == 0


def stage_regress(rc, args, tally):
    out = os.path.join(args.out, "regress")
    rc.reset_shards()
    pg_regress(rc.router, ["lifecycle"], os.path.join(out, "router"), tally, "through the router")
    # Where the lifecycle's wallets went: each of its four tenants to its own shard.
    counts = rc.shard_rows("SELECT string_agg(wallet_id, ' ' ORDER BY wallet_id) FROM ledger.wallets")
    want = [["globex", "globex/ops"], ["initech", "initech/agent-1"],
            ["acme", "acme/research", "acme/research/agent-7"],
            ["zeta", "zeta/batch-runner"]]
    got = [sorted((c[0][0] or "").split()) for c in counts]
    tally.add(got == want, "regress: every tenant's wallets on its own shard", str(got))
    stage_verify(rc, tally, "after the lifecycle through the router")
    rc.reset_shards()
    pg_regress(rc.shards[0], ["lifecycle"], os.path.join(out, "direct"), tally,
               "directly on one shard (same expected output)")
    # A fleet's wallet tree through the router: the tree on its tenant's shard.
    rc.reset_shards()
    pg_regress(rc.router, ["fleet"], os.path.join(out, "fleet-router"), tally, "through the router")
    counts = rc.shard_rows("SELECT string_agg(wallet_id, ' ' ORDER BY wallet_id) FROM ledger.wallets")
    want = [["orbit", "orbit/research", "orbit/research/agent-1", "orbit/research/agent-2"],
            ["vega"], [], []]
    got = [sorted((c[0][0] or "").split()) for c in counts]
    tally.add(got == want, "regress: a wallet tree lives on its tenant's shard", str(got))
    stage_verify(rc, tally, "after the fleet through the router")
    rc.reset_shards()
    pg_regress(rc.shards[0], ["fleet"], os.path.join(out, "fleet-direct"), tally,
               "directly on one shard (same expected output)")
    rc.reset_shards()
    pg_regress(rc.router, ["routing"], os.path.join(out, "routing"), tally, "through the router")
    check_privileges(rc, tally)


def check_privileges(rc, tally):
    """PUBLIC may not call through the router; a role granted USAGE and
    EXECUTE may (acting on the shards as its mapped role)."""
    import psycopg
    with rc.router.connect() as c:
        c.execute("DROP ROLE IF EXISTS router_caller")
        c.execute("CREATE ROLE router_caller LOGIN")
    def call():
        conn = psycopg.connect(rc.router.conninfo().replace("user=postgres", "user=router_caller"),
                               autocommit=True)
        with conn:
            try:
                conn.execute("SELECT ledger.ledger_balance('globex/ops')").fetchone()
                return "ok"
            except psycopg.Error as exc:
                return exc.sqlstate
    got = call()
    tally.add(got == "42501", "privileges: a role without grants cannot call through the router",
              got)
    with rc.router.connect() as c:
        c.execute("GRANT USAGE ON SCHEMA ledger TO router_caller")
        c.execute("GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA ledger TO router_caller")
        c.execute("GRANT USAGE ON FOREIGN SERVER baseledger TO router_caller")
    got = call()
    tally.add(got == "ok", "privileges: a granted role calls through the router", got)
    with rc.router.connect() as c:
        c.execute("DROP OWNED BY router_caller")
        c.execute("DROP ROLE router_caller")


def stage_verify(rc, tally, label):
    """ledger_verify() on every shard, directly, and through the router."""
    for i, rows in enumerate(rc.shard_rows("SELECT * FROM ledger.ledger_verify()")):
        tally.add(not rows, f"{label}: ledger_verify() on shard {i} is clean",
                  f"{len(rows)} problem(s) {rows[:3]}" if rows else "")
    with rc.router.connect() as c:
        rows = c.execute("SELECT * FROM ledger.ledger_verify()").fetchall()
    tally.add(not rows, f"{label}: ledger_verify() through the router is clean")


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="the CI's short version")
    ap.add_argument("--stages", default="regress,reliability,fault,split,bench")
    ap.add_argument("--out", default=os.path.join(REPO, "build", "router"))
    ap.add_argument("--keep", action="store_true", help="keep the servers' directories")
    ap.add_argument("--ext-root", default=None,
                    help="load the extensions from this DESTDIR (extension_destdir)")
    ap.add_argument("--duration", type=float, default=None,
                    help="seconds of the reliability run (default 60, quick 15)")
    args = ap.parse_args(argv)
    stages = [s for s in args.stages.split(",") if s]
    os.makedirs(args.out, exist_ok=True)
    tally = Tally()
    t0 = time.time()
    try:
        settings = {"extension_destdir": f"'{args.ext_root}'"} if args.ext_root else {}
        with RouterCluster(shards=4, keep=args.keep, settings=settings) as rc:
            log(f"router on port {rc.router.port}, shards on "
                + ", ".join(f"p{i}:{s.port}" for i, s in enumerate(rc.shards))
                + f" ({rc.root})")
            for name in stages:
                log(f"stage {name}")
                try:
                    if name == "regress":
                        stage_regress(rc, args, tally)
                    elif name == "reliability":
                        import reliability
                        reliability.run(rc, args, tally)
                    elif name == "fault":
                        import fault
                        fault.run(rc, args, tally)
                    elif name == "split":
                        import split
                        split.run(rc, args, tally)
                    elif name == "bench":
                        import bench
                        bench.run(rc, args, tally)
                    else:
                        raise ValueError(f"unknown stage {name}")
                except Exception as exc:  # noqa: BLE001 - a broken stage is a failed test
                    traceback.print_exc()
                    tally.add(False, f"stage {name}: {exc!r}")
                stage_verify(rc, tally, f"after {name}")
    except Exception as exc:  # noqa: BLE001
        traceback.print_exc()
        tally.add(False, f"harness: {exc!r}")
    log(f"done in {time.time() - t0:.0f} s")
    if tally.failures:
        log("failed: " + "; ".join(tally.failures[:20]))
    print(f"{tally.passed} passed, {tally.failed} failed", flush=True)
    return 0 if tally.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
