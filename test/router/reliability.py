"""The reliability workload through the router, audited over all shards.

Reuses test/reliability/: its clients (random credits, debits, reserves,
settles, cancels and extends on hot and cold wallets, lost-reply retries,
deliberate misuse probes, balance reads) and a sweeper calling ledger_expire()
all connect to the router; then its independent auditor recomputes every
wallet and hold from the event logs of all the shards together (their union:
wallets never span shards) and checks the ledger's guarantees against the
clients' logs.

Only single-call transactions are made: PL/Proxy commits each forwarded call
on its shard when it returns, so a transaction of several calls, or one
abandoned before COMMIT, is not atomic through the router (router/README.md).
The workload's wallet names (hot-0, cold-017, ...) are each their own tenant
and spread over the four shards.
"""

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RELIABILITY = os.path.join(os.path.dirname(HERE), "reliability")


def _import_reliability():
    # Appended, not prepended: test/reliability has a cluster.py of its own.
    if RELIABILITY not in sys.path:
        sys.path.append(RELIABILITY)
    import auditor  # noqa: F401
    import clients
    import common  # noqa: F401
    # Single autocommitted calls only (see above).
    clients.MODES = [("auto", 1)]
    return sys.modules["auditor"], clients, sys.modules["common"]


def merged_run(auditor_mod, common_mod, rc, logdir, final):
    """Auditor.run over the union of the shards."""
    aud = auditor_mod.Auditor(logdir, final)
    cutoff = None
    us = "(extract(epoch FROM {0}) * 1000000)::bigint"
    if final:
        # ledger_expire() through the router until no lapsed hold is active
        # on any shard (it skips wallets that are busy).
        with rc.router.connect() as c:
            total = 0
            for _ in range(50):
                cutoff = common_mod.now_us()
                total += c.execute("SELECT ledger.ledger_expire()").fetchone()[0]
                left = sum(r[0][0] for r in rc.shard_rows(
                    "SELECT count(*) FROM ledger.reservations WHERE state = 'active' "
                    "AND expires_at <= to_timestamp(%s / 1000000.0)", (cutoff,)))
                if left == 0:
                    break
                time.sleep(0.1)
        aud.stats["final_expired"] = total
    # The audit's instant is taken before any shard's snapshot, so every call
    # acknowledged before it is visible in every shard's snapshot.
    snap = common_mod.now_us()
    events, wallets, reservations, verify = [], [], [], []
    for s in rc.shards:
        with s.connect() as conn:
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            events += conn.execute(
                "SELECT wallet_id, seq, kind::text, amount, reservation_id::text, "
                f"idempotency_key, balance, reserved, {us.format('expires_at')}, "
                f"{us.format('at')}, metadata::text FROM ledger.events").fetchall()
            wallets += conn.execute(
                "SELECT wallet_id, balance, reserved, active_reservations, last_seq, "
                f"{us.format('last_at')} FROM ledger.wallets").fetchall()
            reservations += conn.execute(
                "SELECT wallet_id, reservation_id::text, amount, captured, state::text, "
                f"{us.format('expires_at')}, {us.format('created_at')}, "
                f"{us.format('updated_at')} FROM ledger.reservations").fetchall()
            verify += conn.execute(
                "SELECT wallet_id, problem FROM ledger.ledger_verify()").fetchall()
            conn.execute("COMMIT")
    events.sort(key=lambda e: (e[0], e[1]))
    aud.snap = snap
    aud.check_db(events, wallets, reservations, verify, cutoff)
    aud.check_logs(common_mod.read_logs(logdir), snap)
    return aud.report()


def run(rc, args, tally):
    if not os.path.exists(os.path.join(RELIABILITY, "auditor.py")):
        tally.add(False, "reliability: test/reliability/ is missing")
        return
    auditor_mod, clients, common_mod = _import_reliability()
    duration = args.duration or (15 if args.quick else 60)
    logdir = os.path.join(args.out, "reliability", time.strftime("%Y%m%d-%H%M%S"))
    os.makedirs(logdir, exist_ok=True)
    # The clients and the sweeper connect through the PG* variables: the router.
    for k, v in rc.router.env().items():
        if k.startswith("PG"):
            os.environ[k] = v
    cfg = argparse.Namespace(
        duration=duration, clients=8, max_calls=2_000_000, hot=3, cold=60, hot_start=20_000,
        cold_start=2_000, seed=int(time.time()) % 1_000_000, extra_wallets=[])
    print(f"    seed {cfg.seed}, {cfg.clients} clients, {duration:.0f} s, logs in {logdir}",
          flush=True)
    rc.reset_shards()
    shared = clients.Shared(cfg)
    setup = clients.Client(999, shared, logdir, seed=999, name="setup")
    wallets = shared.hot + shared.cold
    with rc.router.connect() as conn:
        for w in wallets:
            conn.execute("SELECT ledger.ledger_create_wallet(%s::text)", (w,))
    for w in wallets:
        amount = cfg.hot_start if w.startswith("hot") else cfg.cold_start
        if setup.execute([clients.Call(f"init-{w}", w, "credit", {"amount": amount, "meta": None})],
                         "auto") is None:
            raise RuntimeError(f"could not credit {w}")
    setup.drop_conn()
    setup.log.close()
    placed = [sum(1 for w in wallets if rc.partition_of(w) == p) for p in range(rc.n)]
    print(f"    wallets per shard: {placed}", flush=True)

    shared.started = time.time()
    shared.deadline = shared.started + duration
    threads = [clients.Client(i, shared, logdir, seed=cfg.seed * 1000 + i)
               for i in range(cfg.clients)]
    threads.append(clients.Sweeper(shared, logdir))
    for t in threads:
        t.start()
    while time.time() < shared.deadline and not shared.stop.is_set():
        time.sleep(0.2)
    shared.stop.set()
    shared.deadline = min(shared.deadline, time.time())
    for t in threads:
        t.join(timeout=60)
        tally.add(not t.is_alive() and not getattr(t, "error", None),
                  f"reliability: {t.name} ran and stopped cleanly",
                  getattr(t, "error", None) or "")
    s = dict(shared.stats)
    print(f"    attempts {s.get('attempts', 0)}, acks {s.get('acks', 0)}, replayed "
          f"{s.get('acks_replayed', 0)}, probes {s.get('probes', 0)}, reads {s.get('reads', 0)}, "
          f"sweeps {s.get('sweeps', 0)}, swept holds {s.get('swept_holds', 0)}, LB001 "
          f"{s.get('fail_LB001', 0)}", flush=True)
    rep = merged_run(auditor_mod, common_mod, rc, logdir, final=True)
    auditor_mod.print_report(rep, prefix="    ")
    for c in rep["checks"]:
        tally.add(c["problems"] == 0, f"reliability audit over all shards: {c['check']}",
                  f"{c['problems']} problem(s)" if c["problems"] else "")
    tally.add(rep["stats"].get("events", 0) > 0 and all(placed),
              "reliability: events were written on every shard",
              f"{rep['stats'].get('events')} events")
