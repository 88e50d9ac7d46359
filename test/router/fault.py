"""The fault test: one shard stops in the middle of a run.

Client threads make credits and debits through the router on wallets of
sixteen tenants (four per shard), each call with its own idempotency key.
After a while one shard is stopped (pg_ctl stop -m immediate: its processes
quit at once, as in a crash), kept down, and started again while the clients
go on. Then:

  - every call on the stopped shard's tenants while it was down failed with
    PL/Proxy's error naming that shard's database;
  - the other shards' tenants carried on: no error at all, and calls
    acknowledged while the shard was down;
  - after the restart the stopped shard's tenants are served again;
  - nothing was lost: every failed call, retried with its key, either
    replays (it had committed before the stop) or applies once; every
    acknowledged call is in its shard's event log exactly once with its
    amount and seq, and no event exists that no call made;
  - each wallet's balance is the sum of its calls; ledger_verify() is clean
    (the harness checks every shard after the stage).
"""

import random
import re
import threading
import time

import psycopg

TENANTS_PER_SHARD = 4
START = 1_000_000


def pick_tenants(rc):
    """Tenant names, TENANTS_PER_SHARD on each partition."""
    by_part = {p: [] for p in range(rc.n)}
    with rc.router.connect() as c:
        i = 0
        while min(len(v) for v in by_part.values()) < TENANTS_PER_SHARD:
            t = f"tenant{i:03d}"
            p = c.execute("SELECT ledger.ledger_router_partition(%s)", (t,)).fetchone()[0]
            if len(by_part[p]) < TENANTS_PER_SHARD:
                by_part[p].append(t)
            i += 1
    return by_part


class Worker(threading.Thread):
    def __init__(self, idx, rc, wallets, part_of, clock, stop):
        super().__init__(name=f"fault-worker-{idx}", daemon=True)
        self.idx = idx
        self.rc = rc
        self.wallets = wallets
        self.part_of = part_of
        self.clock = clock  # callable: the phase now ("before", "down", "after")
        self.stop = stop
        self.rng = random.Random(idx)
        self.log = []  # (phase, partition, wallet, key, kind, amount, outcome, detail)
        self.pending = []  # calls that failed: retried with their key at the end
        self.error = None

    def call(self, conn, wallet, key, kind, amount):
        return conn.execute(
            f"SELECT seq, replayed FROM ledger.ledger_{kind}(%s, %s, %s)",
            (wallet, amount, key)).fetchone()

    def run(self):
        try:
            conn = self.rc.router.connect()
            n = 0
            while not self.stop.is_set():
                n += 1
                wallet = self.rng.choice(self.wallets)
                kind = "credit" if self.rng.random() < 0.5 else "debit"
                amount = self.rng.randint(1, 50)
                key = f"w{self.idx}-{n}"
                phase = self.clock()
                try:
                    seq, replayed = self.call(conn, wallet, key, kind, amount)
                    self.log.append((phase, self.part_of[wallet], wallet, key, kind, amount,
                                     "ack", (seq, replayed)))
                except psycopg.Error as exc:
                    msg = str(exc).splitlines()[0] if str(exc) else ""
                    self.log.append((phase, self.part_of[wallet], wallet, key, kind, amount,
                                     "fail", (exc.sqlstate, msg)))
                    self.pending.append((wallet, key, kind, amount))
                    if conn.closed or conn.broken:
                        conn = self.rc.router.connect()
                time.sleep(0.002)
            conn.close()
        except Exception as exc:  # noqa: BLE001 - reported by the stage
            self.error = repr(exc)


def run(rc, args, tally):
    quick = args.quick
    before, down, after = (2.0, 3.0, 3.0) if quick else (5.0, 8.0, 5.0)
    rc.reset_shards()
    by_part = pick_tenants(rc)
    victim = 2
    part_of = {}
    wallets = []
    with rc.router.connect() as c:
        for p, tenants in by_part.items():
            for t in tenants:
                # The tenant's root first (a child needs its parent), funded
                # so that only the agents' own funds bound their debits.
                c.execute("SELECT ledger.ledger_create_wallet(%s)", (t,))
                c.execute("SELECT ledger.ledger_credit(%s, %s, 'start')", (t, 1000 * START))
                for w in (f"{t}/agent-1", f"{t}/agent-2"):
                    c.execute("SELECT ledger.ledger_create_wallet(%s)", (w,))
                    c.execute("SELECT ledger.ledger_credit(%s, %s, 'start')", (w, START))
                    part_of[w] = p
                    wallets.append(w)
    state = {"phase": "before"}
    stop = threading.Event()
    workers = [Worker(i, rc, wallets, part_of, lambda: state["phase"], stop) for i in range(4)]
    for w in workers:
        w.start()
    time.sleep(before)
    # Calls made while pg_ctl stops the server may still succeed: only those
    # begun after it returned count as made while the shard was down.
    state["phase"] = "stopping"
    t_stop = time.time()
    rc.shards[victim].stop("immediate")
    state["phase"] = "down"
    print(f"    shard {victim} stopped (immediate) after {before:.0f} s", flush=True)
    time.sleep(down)
    state["phase"] = "restarting"
    rc.shards[victim].start()
    rc.wait_ready(rc.shards[victim])
    print(f"    shard {victim} restarted after {time.time() - t_stop:.1f} s down", flush=True)
    state["phase"] = "after"
    time.sleep(after)
    stop.set()
    for w in workers:
        w.join(timeout=30)
    errors = [w.error for w in workers if w.error]
    tally.add(not errors, "fault: client threads ran to the end", "; ".join(errors))
    log = [rec for w in workers for rec in w.log]

    def count(phase, victim_side, outcome):
        return sum(1 for r in log if r[0] == phase and (r[1] == victim) == victim_side
                   and r[6] == outcome)

    for phase in ("before", "stopping", "down", "restarting", "after"):
        print(f"    {phase:10s}: stopped shard's tenants {count(phase, True, 'ack')} ok / "
              f"{count(phase, True, 'fail')} failed; others {count(phase, False, 'ack')} ok / "
              f"{count(phase, False, 'fail')} failed", flush=True)

    # The stopped shard's tenants: every call while it was down failed, with
    # PL/Proxy's error naming the shard's database.
    down_victim = [r for r in log if r[0] == "down" and r[1] == victim]
    acked = [r for r in down_victim if r[6] == "ack"]
    tally.add(down_victim and not acked,
              "fault: calls for the stopped shard's tenants fail while it is down",
              f"{len(down_victim)} calls, {len(acked)} acknowledged")
    db = rc.shards[victim].dbname
    shapes = {}
    for r in down_victim:
        if r[6] != "fail":
            continue
        state_, msg = r[7]
        shape = re.sub(r"port \d+", "port N", re.sub(r"^.*?\]", "", msg))[:110]
        shapes.setdefault((state_, shape), 0)
        shapes[(state_, shape)] += 1
    clear = all(f"[{db}]" in r[7][1] for r in down_victim if r[6] == "fail")
    tally.add(clear and down_victim, f"fault: each failure names the stopped shard ([{db}])")
    for (st, shape), k in sorted(shapes.items(), key=lambda x: -x[1]):
        print(f"      {k:5d} x SQLSTATE {st}: ...{shape}", flush=True)
    # The others carried on.
    others_fail = [r for r in log if r[1] != victim and r[6] == "fail"]
    tally.add(not others_fail, "fault: no call for another shard's tenants failed",
              f"{len(others_fail)} failed, e.g. {others_fail[:2]}" if others_fail else "")
    tally.add(count("down", False, "ack") > 0,
              "fault: the other shards' tenants were served while the shard was down",
              f"{count('down', False, 'ack')} calls")
    tally.add(count("after", True, "ack") > 0 and count("after", True, "fail") == 0,
              "fault: the stopped shard's tenants are served again after the restart",
              f"{count('after', True, 'ack')} ok, {count('after', True, 'fail')} failed")

    # Retry every failed call with its key: replay (it had committed) or apply.
    retried = {}
    with rc.router.connect() as c:
        for w in workers:
            for wallet, key, kind, amount in w.pending:
                seq, replayed = c.execute(
                    f"SELECT seq, replayed FROM ledger.ledger_{kind}(%s, %s, %s)",
                    (wallet, amount, key)).fetchone()
                retried[(wallet, key)] = (kind, amount, seq, replayed)
    replays = sum(1 for v in retried.values() if v[3])
    print(f"    retried {len(retried)} failed calls with their keys: {replays} replayed "
          f"(committed before the stop), {len(retried) - replays} applied now", flush=True)

    # Nothing lost, nothing extra: the shards' events against the calls.
    calls = {}
    for r in log:
        if r[6] == "ack":
            calls[(r[2], r[3])] = (r[4], r[5], r[7][0])
    for k, (kind, amount, seq, _) in retried.items():
        calls[k] = (kind, amount, seq)
    events = {}
    dup = 0
    for p, rows in enumerate(rc.shard_rows(
            "SELECT wallet_id, idempotency_key, kind::text, amount, seq FROM ledger.events "
            "WHERE idempotency_key <> 'start'")):
        for wallet, key, kind, amount, seq in rows:
            if (wallet, key) in events:
                dup += 1
            events[(wallet, key)] = (kind, amount, seq)
            if part_of.get(wallet) != p:
                tally.add(False, f"fault: event of {wallet} on partition {p}")
    missing = [k for k in calls if k not in events]
    wrong = [k for k in calls if k in events and events[k] != calls[k]]
    phantom = [k for k in events if k not in calls]
    tally.add(not missing and not wrong and not dup,
              "fault: every acknowledged or retried call is in its shard's log once, as answered",
              f"{len(calls)} calls; missing {missing[:3]}, different {wrong[:3]}, duplicates {dup}")
    tally.add(not phantom, "fault: no event that no call made", f"{phantom[:3]}")
    # Balances: the start credit plus the calls.
    want = {w: START for w in wallets}
    for (wallet, _), (kind, amount, _) in calls.items():
        want[wallet] += amount if kind == "credit" else -amount
    got = {}
    with rc.router.connect() as c:
        for w in wallets:
            got[w] = c.execute("SELECT balance FROM ledger.ledger_balance(%s)", (w,)).fetchone()[0]
    bad = {w: (got[w], want[w]) for w in wallets if got[w] != want[w]}
    tally.add(not bad, "fault: every wallet's balance is the sum of its calls",
              f"{len(bad)} differ, e.g. {list(bad.items())[:3]}" if bad else f"{len(wallets)} wallets")
