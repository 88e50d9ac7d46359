"""Deliberately broken behaviour, to show that the auditor catches it.

The extension itself is not changed: each scenario breaks the ledger from the
outside, in the throwaway cluster only, as a buggy build would.

  nolock           a debit written in SQL that checks the balance and then
                   acts without the wallet lock (check-then-act), with the
                   guards a lock-free build would lack (the available >= 0
                   CHECK and the UNIQUE idempotency key) dropped: two racing
                   debits overdraw the wallet, and two racing retries of one
                   call both apply.
  expired-capture  a hold that has lapsed is made settleable again by moving
                   its expires_at in ledger.reservations, as a build that
                   ignored expiry at settle would; the real ledger_settle then
                   captures it.
  stuck-hold       reserve through a wrapper that judges available funds on
                   the stored projection without first expiring lapsed holds,
                   as a build that forgot the dead-man's switch at reserve
                   would: money of expired holds stays blocked, and reserves
                   are refused with LB001 although the funds are free (with
                   the sweeper and the pg_cron job off, so lapsed holds linger).
  lost-ack         after the run, the last event of a wallet, a call a client
                   saw acknowledged, is removed with its projection, as if a
                   crash had lost a committed transaction.
"""

import json
import threading
import time

import psycopg

from clients import Call, Client
from common import RESULT_COLUMNS, connect

RACY_DEBIT = """
CREATE OR REPLACE FUNCTION public.racy_debit(w text, amt bigint, k text, pause float8)
RETURNS TABLE (seq bigint, kind text, reservation_id text, amount bigint, balance bigint,
               reserved bigint, available bigint, expires_at timestamptz, at timestamptz,
               replayed boolean)
LANGUAGE plpgsql AS $$
DECLARE
  b bigint; r bigint; s bigint; t timestamptz;
BEGIN
  -- The idempotency check, without the lock.
  SELECT e.seq, e.balance, e.reserved, e.at INTO s, b, r, t
    FROM ledger.events e WHERE e.wallet_id = w AND e.idempotency_key = k;
  IF FOUND THEN
    RETURN QUERY SELECT s, 'debit'::text, NULL::text, amt, b, r, b - r, NULL::timestamptz, t, true;
    RETURN;
  END IF;
  -- The balance check, without the lock.
  SELECT wl.balance, wl.reserved INTO b, r FROM ledger.wallets wl WHERE wl.wallet_id = w;
  IF b - r < amt THEN
    RAISE EXCEPTION 'insufficient funds' USING ERRCODE = 'LB001';
  END IF;
  PERFORM pg_sleep(pause);  -- another writer acts here
  UPDATE ledger.wallets wl
     SET balance = wl.balance - amt, last_seq = wl.last_seq + 1,
         last_at = greatest(clock_timestamp(), wl.last_at + interval '1 microsecond')
   WHERE wl.wallet_id = w
  RETURNING wl.balance, wl.reserved, wl.last_seq, wl.last_at INTO b, r, s, t;
  INSERT INTO ledger.events (wallet_id, seq, kind, amount, idempotency_key, balance, reserved, at)
  VALUES (w, s, 'debit', amt, k, b, r, t);
  RETURN QUERY SELECT s, 'debit'::text, NULL::text, amt, b, r, b - r, NULL::timestamptz, t, false;
END
$$;
"""


STALE_RESERVE = """
CREATE OR REPLACE FUNCTION public.stale_reserve(w text, amt bigint, ttl interval, k text,
                                                meta jsonb)
RETURNS SETOF ledger.ledger_result
LANGUAGE plpgsql AS $$
DECLARE
  b bigint; r bigint;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM ledger.events e WHERE e.wallet_id = w AND e.idempotency_key = k)
  THEN
    SELECT wl.balance, wl.reserved INTO b, r FROM ledger.wallets wl WHERE wl.wallet_id = w;
    IF b - r < amt THEN
      RAISE EXCEPTION 'insufficient funds' USING ERRCODE = 'LB001';
    END IF;
  END IF;
  RETURN QUERY SELECT * FROM ledger.ledger_reserve(w, amt, ttl, k, meta);
END
$$;
"""


def stale_reserve_sql(wallet, key, args):
    meta = args.get("meta")
    return (f"SELECT {RESULT_COLUMNS} FROM public.stale_reserve"
            "(%s::text, %s::bigint, %s::bigint * interval '1 millisecond', %s::text, %s::jsonb)",
            (wallet, args["amount"], args["ttl_ms"], key,
             json.dumps(meta) if meta is not None else None))


def setup_stuck_hold():
    with connect("reliability-sabotage") as conn:
        conn.execute(STALE_RESERVE)


class StuckHold(threading.Thread):
    """On its own wallet (balance 1000): holds 900 for 1 s, waits past expiry,
    then asks for 500 through the stale check: the ledger must not refuse it."""

    def __init__(self, shared, logdir, wallet):
        super().__init__(name="stuck", daemon=True)
        self.sh = shared
        self.wallet = wallet
        self.client = Client(920, shared, logdir, seed=920, name="stuck")
        self.refused = 0

    def run(self):
        c = self.client
        while not self.sh.stop.is_set():
            got = c.execute([Call(c.new_cid(), self.wallet, "reserve",
                                  {"amount": 900, "ttl_ms": 1000, "meta": None})], "auto")
            time.sleep(1.3)
            args = {"amount": 500, "ttl_ms": 1000, "meta": None}
            cid = c.new_cid()
            got = c.execute([Call(cid, self.wallet, "reserve", args,
                                  sql=stale_reserve_sql(self.wallet, cid, args))], "auto")
            if got is None:
                self.refused += 1
            time.sleep(1.3)
        c.drop_conn()


def racy_sql(wallet, amount, key, pause):
    return (f"SELECT {RESULT_COLUMNS} FROM public.racy_debit(%s, %s, %s, %s)",
            (wallet, amount, key, pause))


# The guards a lock-free build would lack, found in the catalog so that the
# sabotage keeps working as the schema grows: every CHECK of ledger.wallets,
# every unique constraint or index on the events' idempotency key, and NOT NULL
# on any event column the racy writer does not fill.
DROP_GUARDS = """
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT conname FROM pg_constraint
            WHERE conrelid = 'ledger.wallets'::regclass AND contype = 'c' LOOP
    EXECUTE format('ALTER TABLE ledger.wallets DROP CONSTRAINT %I', r.conname);
  END LOOP;
  FOR r IN SELECT c.conname FROM pg_constraint c
            WHERE c.conrelid = 'ledger.events'::regclass AND c.contype = 'u'
              AND EXISTS (SELECT 1 FROM pg_attribute a
                           WHERE a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
                             AND a.attname = 'idempotency_key') LOOP
    EXECUTE format('ALTER TABLE ledger.events DROP CONSTRAINT %I', r.conname);
  END LOOP;
  FOR r IN SELECT DISTINCT i.indexrelid::regclass AS idx FROM pg_index i
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
            WHERE i.indrelid = 'ledger.events'::regclass AND i.indisunique
              AND NOT i.indisprimary AND a.attname = 'idempotency_key' LOOP
    EXECUTE format('DROP INDEX %s', r.idx);
  END LOOP;
  FOR r IN SELECT attname FROM pg_attribute
            WHERE attrelid = 'ledger.events'::regclass AND attnum > 0 AND NOT attisdropped
              AND attnotnull
              AND attname NOT IN ('wallet_id', 'seq', 'kind', 'amount', 'balance', 'reserved',
                                  'at', 'idempotency_key') LOOP
    EXECUTE format('ALTER TABLE ledger.events ALTER COLUMN %I DROP NOT NULL', r.attname);
  END LOOP;
END
$$;
"""


def setup_nolock():
    with connect("reliability-sabotage") as conn:
        conn.execute(RACY_DEBIT)
        conn.execute(DROP_GUARDS)


class RacyPairs(threading.Thread):
    """Twice a second, two lock-free debits race on one hot wallet: each takes
    70% of what is available; every other round they share one key (a retry
    sent while the first try is still running)."""

    def __init__(self, shared, logdir, wallet):
        super().__init__(name="racy", daemon=True)
        self.sh = shared
        self.wallet = wallet
        self.workers = [Client(900 + i, shared, logdir, seed=900 + i, name=f"racy-{i}")
                        for i in range(2)]
        self.rounds = 0

    def run(self):
        while not self.sh.stop.is_set():
            time.sleep(0.5)
            try:
                with connect("reliability-racy") as conn:
                    avail = conn.execute("SELECT available FROM ledger.ledger_balance(%s)",
                                         (self.wallet,)).fetchone()[0]
            except psycopg.Error:
                continue
            amount = max(1, int(avail * 0.7))
            self.rounds += 1
            shared_key = f"racy-{self.rounds}" if self.rounds % 2 == 0 else None
            calls = []
            for wk in self.workers:
                cid = wk.new_cid()
                key = shared_key or cid
                calls.append(Call(cid, self.wallet, "debit", {"amount": amount, "meta": None},
                                  key=key, sql=racy_sql(self.wallet, amount, key, 0.2)))
            threads = [threading.Thread(target=wk.execute, args=([c], "auto"))
                       for wk, c in zip(self.workers, calls)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        for wk in self.workers:
            wk.drop_conn()


class ExpiredCapture(threading.Thread):
    """Reserves with a 1 s ttl, waits past expiry, moves the hold's expires_at
    forward behind the ledger's back and settles it through ledger_settle."""

    def __init__(self, shared, logdir, wallet):
        super().__init__(name="tamper", daemon=True)
        self.sh = shared
        self.wallet = wallet
        self.client = Client(910, shared, logdir, seed=910, name="tamper")
        self.captured = 0

    def run(self):
        c = self.client
        while not self.sh.stop.is_set():
            res = c.execute([Call(c.new_cid(), self.wallet, "reserve",
                                  {"amount": 10, "ttl_ms": 1000, "meta": None})], "auto")
            if res is None:
                continue
            rid = res[0]["rid"]
            time.sleep(1.3)
            try:
                with connect("reliability-tamper") as conn:
                    n = conn.execute(
                        "UPDATE ledger.reservations SET expires_at = clock_timestamp() + "
                        "interval '1 minute' WHERE wallet_id = %s AND reservation_id = %s "
                        "AND state = 'active'", (self.wallet, rid)).rowcount
            except psycopg.Error:
                continue
            if n == 1:
                got = c.execute([Call(c.new_cid(), self.wallet, "settle",
                                      {"rid": rid, "amount": 7, "meta": None})], "auto")
                if got is not None:
                    self.captured += 1
        c.drop_conn()


def lose_last_ack(records):
    """Removes the newest event of a wallet whose newest event is a debit or
    credit a client saw acknowledged, and rolls the wallet row back to the event
    before it. Returns a description of what was removed."""
    keys = {r["cid"]: (r["w"], r["k"]) for r in records if r.get("ev") == "attempt"}
    acked = {keys[r["cid"]] for r in records if r.get("ev") == "ack" and r["cid"] in keys}
    with connect("reliability-sabotage", autocommit=False) as conn:
        rows = conn.execute(
            "SELECT DISTINCT ON (wallet_id) wallet_id, seq, kind::text, idempotency_key "
            "FROM ledger.events ORDER BY wallet_id, seq DESC").fetchall()
        for wallet, seq, kind, key in rows:
            if kind not in ("credit", "debit") or (wallet, key) not in acked or seq < 2:
                continue
            # The append-only triggers stay off: the next scenario recreates
            # the extension.
            conn.execute("ALTER TABLE ledger.events DISABLE TRIGGER USER")
            conn.execute("DELETE FROM ledger.events WHERE wallet_id = %s AND seq = %s",
                         (wallet, seq))
            conn.execute(
                "UPDATE ledger.wallets w SET balance = e.balance, reserved = e.reserved, "
                "last_seq = e.seq, last_at = e.at FROM ledger.events e "
                "WHERE w.wallet_id = %s AND e.wallet_id = w.wallet_id AND e.seq = %s",
                (wallet, seq - 1))
            conn.commit()
            return f"{kind} seq {seq} of {wallet} (key {key})"
    return None


def unschedule_expiry():
    """Stops the pg_cron sweep, so that only writes expire lapsed holds."""
    with connect("reliability-sabotage") as conn:
        conn.execute("SELECT ledger.ledger_unschedule_expiry()")

