"""The workload's clients: many threads, each with its own connection, making
a random mix of ledger calls, plus the expiry sweeper.

Every attempt is logged before it is sent and its outcome after it is known:
  attempt  the call (wallet, key, kind, arguments, isolation mode, flags)
  ack      committed and the reply received: the ledger_result
  fail     a definite failure reported by the server (SQLSTATE); the
           transaction was rolled back. A call rolled back because another
           call in its transaction failed is logged with state ROLLBACK.
  unknown  the connection was lost while the call or its COMMIT was in
           flight: it may or may not have committed
  aborted  the client deliberately closed the connection before COMMIT
A call whose outcome is unknown is retried with the same key and arguments
once the server answers again; it must then replay (it had committed) or
apply once (it had not).
"""

import random
import threading
import time
import uuid

import psycopg

from common import (TRANSIENT, JsonLog, call_sql, connect, now_us, result_dict,
                    sqlstate_of)

# Isolation modes of a transaction. "auto" is a single autocommitted statement;
# "abort" runs BEGIN; call; and closes the connection without COMMIT.
MODES = [("auto", 56), ("rc", 10), ("rr", 12), ("ser", 8), ("multi", 8), ("abort", 6)]
BEGIN = {
    "rc": "BEGIN ISOLATION LEVEL READ COMMITTED",
    "multi": "BEGIN ISOLATION LEVEL READ COMMITTED",
    "abort": "BEGIN ISOLATION LEVEL READ COMMITTED",
    "rr": "BEGIN ISOLATION LEVEL REPEATABLE READ",
    "ser": "BEGIN ISOLATION LEVEL SERIALIZABLE",
}
KINDS = [("credit", 11), ("debit", 15), ("reserve", 32), ("settle", 20), ("cancel", 9),
         ("extend", 13)]


def weighted(rng, table):
    total = sum(w for _, w in table)
    x = rng.uniform(0, total)
    for item, w in table:
        x -= w
        if x <= 0:
            return item
    return table[-1][0]


class Call:
    """One ledger write: its key is used by every attempt of it."""

    def __init__(self, cid, wallet, kind, args, probe=None, key=None, sql=None):
        self.cid = cid
        self.sql = sql  # (text, params) to send instead of the ledger function
        self.wallet = wallet
        self.key = key or cid
        self.kind = kind
        self.args = args
        self.probe = probe  # None, or the SQLSTATE this deliberate misuse must fail with
        self.tries = 0  # attempts so far, lost-reply retries included


class Shared:
    """State the clients share: the wallets, the open holds and the budget."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.hot = [f"hot-{i}" for i in range(cfg.hot)]
        self.cold = [f"cold-{i:03d}" for i in range(cfg.cold)]
        self.pool = {w: [] for w in self.hot + self.cold}
        self.pool_lock = threading.Lock()
        self.stop = threading.Event()
        self.deadline = None
        self.budget = cfg.max_calls
        self.budget_lock = threading.Lock()
        self.stats = {}
        self.stats_lock = threading.Lock()
        self.server_down = threading.Event()  # set by the crash controller while it restarts
        self.reserve_sql = None  # a replacement of ledger_reserve (sabotage only)

    def count(self, name, n=1):
        with self.stats_lock:
            self.stats[name] = self.stats.get(name, 0) + n

    def take_budget(self, n):
        with self.budget_lock:
            if self.budget < n:
                return False
            self.budget -= n
            return True

    def add_hold(self, wallet, rid, amount, exp):
        with self.pool_lock:
            holds = self.pool[wallet]
            holds.append((rid, amount, exp))
            if len(holds) > 200:
                del holds[:len(holds) - 200]

    def drop_hold(self, wallet, rid):
        with self.pool_lock:
            self.pool[wallet] = [h for h in self.pool[wallet] if h[0] != rid]

    def pick_hold(self, rng, wallet):
        """A hold of wallet, else of any wallet; mostly live ones, sometimes lapsed."""
        now = now_us()
        with self.pool_lock:
            for w in [wallet] + rng.sample(list(self.pool), min(8, len(self.pool))):
                holds = self.pool[w]
                # Forget holds long past their expiry; keep recently lapsed ones
                # so settle, cancel and extend sometimes meet an expired hold.
                holds[:] = [h for h in holds if h[2] > now - 3_000_000]
                if holds:
                    return w, rng.choice(holds)
        return None, None


class Client(threading.Thread):
    def __init__(self, idx, shared, logdir, seed, name=None):
        super().__init__(name=name or f"client-{idx}", daemon=True)
        self.idx = idx
        self.sh = shared
        self.cfg = shared.cfg
        self.rng = random.Random(seed)
        self.log = JsonLog(f"{logdir}/{name or f'client-{idx:03d}'}.jsonl")
        self.conn = None
        self.n = 0
        self.acked = []  # recent acked calls, for idempotency-conflict probes
        self.deferred = []  # (due, calls, mode): lost-reply retries for later

    # ------------------------------------------------------------ plumbing

    def new_cid(self):
        self.n += 1
        return f"c{self.idx}-{self.n}"

    def ensure_conn(self):
        """Connects, waiting out a server restart; False when the run is over."""
        while self.conn is None or self.conn.closed or self.conn.broken:
            if self.conn is not None:
                try:
                    self.conn.close()
                except Exception:
                    pass
                self.conn = None
            if self.sh.stop.is_set() and time.time() > self.sh.deadline:
                return False
            try:
                self.conn = connect(f"reliability-client-{self.idx}")
            except psycopg.Error:
                self.conn = None
                self.sh.count("reconnect_waits")
                time.sleep(0.1 + self.rng.random() * 0.2)
        return True

    def drop_conn(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:
                pass
        self.conn = None

    def connection_lost(self, exc):
        """True when the connection died: the call's outcome is then unknown."""
        if self.conn is None or self.conn.closed or self.conn.broken:
            return True
        state = sqlstate_of(exc)
        if state is None:
            raise RuntimeError(f"client-side error: {exc!r}") from exc
        return state.startswith(("08", "57P"))

    # ------------------------------------------------------------ one attempt

    def attempt(self, calls, mode, tryno, flags):
        """Runs calls in one transaction once. Returns (outcome, detail)."""
        if not self.ensure_conn():
            return "gave_up", None
        t0 = now_us()
        txn = f"{calls[0].cid}/{tryno}"
        for pos, c in enumerate(calls):
            self.log.write(ev="attempt", cid=c.cid, w=c.wallet, k=c.key, kind=c.kind, a=c.args,
                           probe=c.probe, mode=mode, tr=tryno, pos=pos, n=len(calls), txn=txn,
                           t0=t0, **flags)
        self.sh.count("attempts", len(calls))
        results = []
        cur = self.conn.cursor()
        try:
            if mode != "auto":
                cur.execute(BEGIN[mode])
            for pos, c in enumerate(calls):
                sql, params = c.sql or call_sql(c.kind, c.wallet, c.key, c.args)
                try:
                    cur.execute(sql, params)
                    results.append(result_dict(cur.fetchone()))
                except psycopg.Error as exc:
                    if self.connection_lost(exc):
                        raise
                    state = sqlstate_of(exc)
                    t1 = now_us()
                    if mode != "auto":
                        try:
                            cur.execute("ROLLBACK")
                        except psycopg.Error:
                            self.drop_conn()
                    for other in calls:
                        self.log.write(ev="fail", cid=other.cid, tr=tryno, t0=t0, t1=t1,
                                       state=state if other is c else "ROLLBACK",
                                       cause=state, pos=pos, txn=txn)
                    return "fail", state
            if mode == "abort":
                self.drop_conn()
                t1 = now_us()
                for c in calls:
                    self.log.write(ev="aborted", cid=c.cid, tr=tryno, t0=t0, t1=t1, txn=txn)
                return "aborted", results
            if mode != "auto":
                try:
                    cur.execute("COMMIT")
                except psycopg.Error as exc:
                    if self.connection_lost(exc):
                        raise
                    state = sqlstate_of(exc)
                    t1 = now_us()
                    for c in calls:
                        self.log.write(ev="fail", cid=c.cid, tr=tryno, t0=t0, t1=t1,
                                       state="ROLLBACK", cause=state, pos=-1, txn=txn)
                    return "fail", state
                if cur.statusmessage != "COMMIT":
                    # The server rolled the transaction back without an error.
                    t1 = now_us()
                    self.log.write(ev="violation", cid=calls[0].cid,
                                   what=f"COMMIT answered {cur.statusmessage!r}")
                    for c in calls:
                        self.log.write(ev="fail", cid=c.cid, tr=tryno, t0=t0, t1=t1,
                                       state="ROLLBACK", cause="commit", pos=-1, txn=txn)
                    return "fail", "ROLLBACK"
            t1 = now_us()
            for c, r in zip(calls, results):
                self.log.write(ev="ack", cid=c.cid, tr=tryno, t0=t0, t1=t1, r=r, txn=txn)
                if r["replayed"]:
                    self.sh.count("acks_replayed")
            self.sh.count("acks", len(calls))
            return "ack", results
        except (psycopg.Error, OSError) as exc:
            t1 = now_us()
            self.drop_conn()
            for c in calls:
                self.log.write(ev="unknown", cid=c.cid, tr=tryno, t0=t0, t1=t1, txn=txn,
                               err=str(exc).strip().splitlines()[0][:160] if str(exc) else "")
            self.sh.count("unknown_outcomes", len(calls))
            return "unknown", None

    def execute(self, calls, mode, **flags):
        """Retries calls until a definite outcome. Returns results, or None."""
        transient = 0
        while True:
            tryno = max(c.tries for c in calls) + 1
            for c in calls:
                c.tries = tryno
            outcome, detail = self.attempt(calls, mode, tryno, flags)
            if outcome == "ack":
                return detail
            if outcome == "gave_up":
                return None
            if outcome == "fail":
                if detail in TRANSIENT and transient < 12:
                    transient += 1
                    self.sh.count(f"retry_{detail}")
                    time.sleep(self.rng.random() * 0.004 * transient)
                    if transient >= 6 and mode in ("rr", "ser"):
                        mode = "rc"  # a hot wallet can starve snapshot transactions
                    continue
                for c in calls:
                    self.after_fail(c, detail)
                return None
            if outcome == "unknown":
                flags = dict(flags, after_unknown=True)
                self.sh.count("retries_after_lost_connection")
                continue
            if outcome == "aborted":
                # The same key on a new connection must now apply afresh.
                mode = "auto"
                flags = dict(flags, after_abort=True)
                continue

    # ------------------------------------------------------------ choosing

    def pick_wallet(self):
        if self.rng.random() < 0.6:
            return self.rng.choice(self.sh.hot)
        return self.rng.choice(self.sh.cold)

    def meta(self):
        if self.rng.random() < 0.2:
            return {"client": self.idx, "note": self.rng.choice(["a", "b", "ü", "x" * 20])}
        return None

    def make_call(self):
        rng = self.rng
        wallet = self.pick_wallet()
        hot = wallet.startswith("hot")
        kind = weighted(rng, KINDS)
        if kind in ("settle", "cancel", "extend"):
            w, hold = self.sh.pick_hold(rng, wallet)
            if hold is None:
                kind = "reserve"
            else:
                wallet = w
                rid, amount, _ = hold
                if kind == "settle":
                    if rng.random() < 0.03:
                        cap = amount + rng.randint(1, 50)  # LB006
                    else:
                        cap = rng.choice([0, amount, rng.randint(0, amount)])
                    return Call(self.new_cid(), wallet, "settle",
                                {"rid": rid, "amount": cap, "meta": self.meta()})
                if kind == "cancel":
                    return Call(self.new_cid(), wallet, "cancel",
                                {"rid": rid, "meta": self.meta()})
                return Call(self.new_cid(), wallet, "extend",
                            {"rid": rid, "ttl_ms": rng.randint(500, 3000)})
        if kind == "credit":
            amount = rng.randint(200, 3000) if hot else rng.randint(20, 400)
            return Call(self.new_cid(), wallet, "credit", {"amount": amount, "meta": self.meta()})
        if kind == "debit":
            amount = rng.randint(10, 900) if hot else rng.randint(5, 250)
            return Call(self.new_cid(), wallet, "debit", {"amount": amount, "meta": self.meta()})
        amount = rng.randint(50, 2500) if hot else rng.randint(10, 400)
        cid = self.new_cid()
        args = {"amount": amount, "ttl_ms": rng.randint(1000, 3000), "meta": self.meta()}
        sql = self.sh.reserve_sql(wallet, cid, args) if self.sh.reserve_sql else None
        return Call(cid, wallet, "reserve", args, sql=sql)

    def make_probe(self):
        """A deliberate misuse that must fail with one SQLSTATE and leave no trace."""
        rng = self.rng
        r = rng.random()
        if r < 0.5 and self.acked:
            orig = rng.choice(self.acked)
            # Same key, different arguments: LB007.
            if orig.kind == "credit":
                args = dict(orig.args, amount=orig.args["amount"] + 1)
                kind = "credit"
            else:
                args = {"amount": 1, "meta": None}
                kind = "credit"
            return Call(self.new_cid(), orig.wallet, kind, args, probe="LB007", key=orig.key)
        if r < 0.85:
            wallet = self.pick_wallet()
            kind = rng.choice(["settle", "cancel", "extend"])
            args = {"rid": str(uuid.uuid4())}
            if kind == "settle":
                args["amount"] = 1
            if kind == "extend":
                args["ttl_ms"] = 1000
            return Call(self.new_cid(), wallet, kind, args, probe="LB003")
        return Call(self.new_cid(), f"missing-{rng.randint(0, 9)}", "credit",
                    {"amount": 5, "meta": None}, probe="LB002")

    # ------------------------------------------------------------ bookkeeping

    def after_ack(self, c, r):
        if c.probe:
            return
        self.acked.append(c)
        if len(self.acked) > 50:
            self.acked.pop(0)
        if c.kind == "reserve":
            self.sh.add_hold(c.wallet, r["rid"], c.args["amount"], r["exp"])
        elif c.kind in ("settle", "cancel"):
            self.sh.drop_hold(c.wallet, c.args["rid"])
        self.sh.count(f"ack_{c.kind}")

    def after_fail(self, c, state):
        if state in ("LB004", "LB005") and c.kind in ("settle", "cancel", "extend"):
            self.sh.drop_hold(c.wallet, c.args["rid"])
        self.sh.count(f"fail_{state}")

    def read_check(self):
        """ledger_balance must never show negative available or reserved funds."""
        if not self.ensure_conn():
            return
        wallet = self.pick_wallet()
        try:
            row = self.conn.execute(
                "SELECT balance, reserved, available, active_reservations "
                "FROM ledger.ledger_balance(%s::text)", (wallet,)).fetchone()
        except psycopg.Error:
            self.drop_conn()
            return
        balance, reserved, available, active = row
        self.sh.count("reads")
        if available < 0 or reserved < 0 or available != balance - reserved or active < 0:
            self.log.write(ev="violation", cid=None,
                           what=f"ledger_balance({wallet}) = {row}: negative or inconsistent")

    # ------------------------------------------------------------ main loop

    def one_round(self):
        rng = self.rng
        now = time.time()
        if self.deferred and self.deferred[0][0] <= now:
            _, calls, mode = self.deferred.pop(0)
            self.sh.count("lost_reply_retries", len(calls))
            self.execute(calls, mode, lost_reply=True)
            return
        r = rng.random()
        if r < 0.04:
            self.read_check()
            return
        if r < 0.075:
            c = self.make_probe()
            if not self.sh.take_budget(1):
                self.sh.stop.set()
                return
            res = self.execute([c], "auto")
            self.sh.count("probes")
            if res is not None:
                self.sh.count("probe_acked")
            return
        mode = weighted(rng, MODES)
        calls = [self.make_call()]
        if mode == "multi":
            calls.append(self.make_call())
            mode = "rc"
            multi = True
        else:
            multi = False
        if not self.sh.take_budget(len(calls)):
            self.sh.stop.set()
            return
        res = self.execute(calls, mode, multi=multi)
        if res is None:
            return
        for c, r in zip(calls, res):
            self.after_ack(c, r)
        # A lost reply: the client never saw the result and sends the call again.
        x = rng.random()
        if x < 0.07:
            self.sh.count("lost_reply_retries", len(calls))
            self.execute(calls, weighted(rng, [("auto", 6), ("rr", 2), ("ser", 1), ("rc", 1)]),
                         lost_reply=True)
        elif x < 0.10:
            self.deferred.append((now + rng.uniform(0.5, 4.0), calls, "auto"))
            self.deferred.sort(key=lambda d: d[0])

    def run(self):
        self.error = None
        try:
            while not self.sh.stop.is_set():
                self.one_round()
        except Exception as exc:  # noqa: BLE001 - the driver reports it as a failure
            import traceback
            traceback.print_exc()
            self.error = repr(exc)
        finally:
            self.drop_conn()
            self.log.close()


class Sweeper(threading.Thread):
    """Calls ledger_expire() every few hundred milliseconds."""

    def __init__(self, shared, logdir, interval=(0.2, 0.8)):
        super().__init__(name="sweeper", daemon=True)
        self.sh = shared
        self.interval = interval
        self.log = JsonLog(f"{logdir}/sweeper.jsonl")
        self.conn = None

    def run(self):
        rng = random.Random(7)
        while not self.sh.stop.is_set():
            time.sleep(rng.uniform(*self.interval))
            try:
                if self.conn is None or self.conn.closed or self.conn.broken:
                    self.conn = connect("reliability-sweeper")
                t0 = now_us()
                n = self.conn.execute("SELECT ledger.ledger_expire()").fetchone()[0]
                self.log.write(ev="sweep", n=n, t0=t0, t1=now_us())
                self.sh.count("sweeps")
                self.sh.count("swept_holds", n)
            except psycopg.Error:
                self.conn = None
        if self.conn is not None:
            self.conn.close()
        self.log.close()

