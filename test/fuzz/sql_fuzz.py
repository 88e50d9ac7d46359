#!/usr/bin/python3
"""SQL fuzzer for the baseledger extension.

Usage (inside a cluster, e.g. `bash scripts/with-cluster.sh /usr/bin/python3
test/fuzz/sql_fuzz.py --calls 10000`):

    sql_fuzz.py [--calls N] [--seed S] [--log SERVER_LOG] [--report FILE]

Makes N calls of every SQL function of the extension with hostile arguments
(NULLs, zero, negatives, bigint extremes, huge and odd unicode strings, bad,
deep and huge JSON, absurd intervals, wrong wallet and reservation ids, keys
of 255/256 characters, multibyte ones) mixed with plausible ones, so that the
ledger also moves through its states. Every call must either succeed or fail
with a SQLSTATE the function documents (README, "Errors"); an argument that
PostgreSQL cannot convert to the parameter's type fails before the function is
called, with the SQLSTATE that converting it alone gives. Besides:

  * results keep available >= 0 and available = balance - reserved;
  * a retry of a successful write with the same key and arguments replays it
    (replayed = true, same seq, kind, amount, reservation and time);
  * a reused key with another amount fails with LB007;
  * settle, cancel and extend never succeed at or after the hold's expires_at;
  * the connection never breaks (a backend crash would break it), and the
    server log has no "terminated by signal", PANIC, TRAP or sanitizer report;
  * ledger_verify() returns no row, every 1,000 calls and at the end.

Prints a summary and a final "N passed, M failed" line, where each failed
check is counted once; exits non-zero on any failure. Run with Debian's
/usr/bin/python3 (python3-psycopg).
"""

import argparse
import collections
import glob
import json
import os
import random
import re
import sys
import time
import uuid

import psycopg

# ----------------------------------------------------------------- SQLSTATEs
# What each function may raise once it is called (README, "Errors"). 22004 is
# a NULL required argument, 22023 an invalid value, 22003 an overflow, 42710 a
# wallet that exists with another unit, LB001-LB007 the ledger's refusals.
COMMON = {"22004", "22023"}
WRITE = COMMON | {"LB002", "LB007"}
TARGET = WRITE | {"LB003", "LB004", "LB005"}
ALLOWED = {
    # LB002: a child's parent does not exist (the fuzzer's path-like ids have
    # none, so its wallets stay roots and its model flat; trees are covered by
    # the fleet stage and the unit tests of the core).
    "ledger_create_wallet": COMMON | {"42710", "LB002"},
    "ledger_credit": WRITE | {"22003"},
    "ledger_debit": WRITE | {"LB001"},
    # 54000: the wallet already has baseledger.max_active_reservations holds.
    "ledger_reserve": WRITE | {"LB001", "22003", "54000"},
    "ledger_settle": TARGET | {"LB006"},
    "ledger_cancel": TARGET,
    "ledger_extend": TARGET | {"22003"},
    "ledger_balance": COMMON | {"LB002"},
    "ledger_reservation": COMMON | {"LB002", "LB003"},
    "ledger_history": COMMON | {"LB002"},
    "ledger_expire": COMMON,
    "ledger_verify": {"22023", "LB002"},
    # A NULL schedule is 22004; cron.schedule() refuses a malformed one with
    # 22023 ("invalid schedule").
    "ledger_schedule_expiry": {"22004", "22023"},
    "ledger_unschedule_expiry": set(),
    "ledger_head": COMMON | {"LB002"},
    # A privilege other than 'read' or 'spend', or a malformed wallet id: 22023.
    "ledger_grant": COMMON,
    "ledger_revoke": COMMON,
    # Batches: NULL or mismatched arrays, or more than 10,000 elements, fail
    # the call; each element's own outcome is in its row's sqlstate column and
    # must be one the single call documents (BATCH_ELEMENT).
    "ledger_reserve_batch": COMMON,
    "ledger_settle_batch": COMMON,
    # UPDATE, DELETE and TRUNCATE of the event log: always 42501.
    "events_dml": {"42501"},
}
BATCH_ELEMENT = {
    "ledger_reserve_batch": {"00000"} | WRITE | {"LB001", "22003", "54000"},
    "ledger_settle_batch": {"00000"} | TARGET | {"LB006"},
}
# Errors PostgreSQL raises while converting an argument, before the call: they
# are accepted only when converting that argument alone gives the same error.
# 22P02 invalid text representation (bigint, uuid, jsonb), 22003 out of range
# for bigint/integer or a numeric in JSON, 22007 invalid interval syntax,
# 22008/22015 interval field overflow, 22P05 \u0000 in JSON text, 54001 stack
# depth exceeded by deeply nested JSON.
# For regrole, 42704 names a role that does not exist.
CONVERSION = {"22P02", "22003", "22007", "22008", "22015", "22P05", "54001", "42704"}

# Known issues (test/fuzz/README.md, "Findings"): reported, not yet fixed.
# They are counted apart and do not fail the run unless --strict is given.
KNOWN = {}

I64_MAX = 2**63 - 1
I64_MIN = -(2**63)
I32_MAX = 2**31 - 1
I32_MIN = -(2**31)


def big(n):
    return str(n)


class Crashed(Exception):
    pass


class Fuzzer:
    def __init__(self, seed, calls, report, strict=False):
        self.strict = strict
        self.crashes = 0
        self.known = collections.Counter()
        self.rng = random.Random(seed)
        self.seed = seed
        self.target_calls = calls
        self.report = report
        self.calls = 0
        self.ok = 0
        self.by_fn = collections.Counter()
        self.by_state = collections.Counter()
        self.failures = []
        self.conv_cache = {}
        self.wallets = []  # wallet ids that exist
        self.units = {}
        self.reservations = []  # (wallet, reservation id)
        self.expires = {}  # (wallet, rid) -> expires_at, from the last reserve/extend seen
        self.held = {}  # (wallet, rid) -> amount
        self.writes = []  # (fn, sql, params, result row) of successful non-replayed writes
        self.keyn = 0
        self.conn = None
        self.connect()
        self.make_pools()

    # ------------------------------------------------------------ plumbing
    def connect(self):
        # After a backend crash the server restarts all sessions and recovers:
        # keep trying for a while, so that the run goes on and counts.
        deadline = time.time() + 120
        while True:
            try:
                self.conn = psycopg.connect("", autocommit=True)
                with self.conn.cursor() as cur:
                    cur.execute("SET statement_timeout = '60s'")
                return
            except psycopg.OperationalError:
                if time.time() > deadline:
                    raise
                time.sleep(1)

    def fail(self, what, sql=None, params=None):
        entry = what
        if sql:
            shown = [p if p is None or len(p) <= 120 else p[:100] + "...(%d chars)" % len(p)
                     for p in (params or [])]
            entry += "\n      sql: %s\n      params: %r" % (sql, shown)
        self.failures.append(entry)
        print("FAIL: " + entry, flush=True)

    def run(self, sql, params=()):
        """Executes one statement; returns (sqlstate or 'ok', rows)."""
        try:
            with self.conn.cursor() as cur:
                cur.execute(sql, params)
                rows = cur.fetchall() if cur.description else []
                names = [d.name for d in cur.description] if cur.description else []
            return "ok", [dict(zip(names, r)) for r in rows]
        except psycopg.Error as e:
            state = e.sqlstate
            if state is None or self.conn.closed or self.conn.broken:
                return "LOST:" + str(e).strip().splitlines()[0][:200], []
            return state, []

    def converts(self, typ, value):
        """The SQLSTATE of converting value to typ alone, or 'ok'."""
        if value is None:
            return "ok"
        key = (typ, value)
        if key not in self.conv_cache:
            state, _ = self.run("SELECT %%s::%s IS NULL" % typ, (value,))
            if state.startswith("LOST"):
                self.fail("connection lost converting a %s: %s" % (typ, state))
                self.connect()
            self.conv_cache[key] = state
        return self.conv_cache[key]

    # ------------------------------------------------------------ values
    def make_pools(self):
        r = self.rng
        self.huge_text = "w" * 1_000_000
        self.odd_strings = [
            "", " ", "\t", "\n", "a b", "a\u00a0b", "wället", "кошелёк", "財布", "😀", "🧑‍🚀",
            "a\u200bb", "\u202eevil", "e\u0301", "\ufeffa", "\uffff", "\U0010ffff", "\x01\x02",
            "'; DROP TABLE ledger.events; --", "%s", "%(x)s", "\\", "a/b", "/a", "a/", "a//b",
            "../../etc/passwd", "NULL", "null", "-1", "a" * 200, "a" * 201, "b" * 255,
            "k" * 256, "é" * 255, "é" * 256, "😀" * 255, "😀" * 256, "\u0301" * 300,
            "x" * 70000, self.huge_text, "ab" * 100, "A.b_c:d@e-f/g",
        ]
        self.bigints = [0, 1, -1, 2, 7, 100, 10**6, I32_MAX, I32_MAX + 1, 2**53, I64_MAX,
                        I64_MAX - 1, I64_MIN, I64_MIN + 1, -(2**31)]
        self.bad_bigint_text = ["9223372036854775808", "-9223372036854775809", "1e3", "",
                                " 42 ", "NaN", "0x10", "1.5", "١٢", "+7", "--1",
                                "99999999999999999999999999"]
        self.intervals = [
            "1 microsecond", "1 us", "2 us", "-1 us", "0", "0 seconds", "1 second", "59 minutes",
            "1 hour", "1 day", "1 day 1 microsecond", "24 hours", "86400 seconds", "1 mon",
            "1 mon -30 days", "1 mon -29 days", "-1 mon 31 days", "1000000 years", "-1000000 years",
            "178000000 years", "2147483647 days", "-2147483648 days", "2147483647 months",
            "9223372036854775807 microseconds", "P1D", "PT0.000001S", "@ 1 hour ago",
            "1 hour ago", "infinity", "-infinity", "abc", "", "1 fortnight", "10 s", "100 ms",
            "00:00:00.000001", "23:59:59.999999", "1 day -1 us", "1e10 seconds", "1.5 hours",
            "1 century", "1 millennium", "3 seconds", "5 seconds", "30 seconds",
        ]
        deep_ok = '{"a":' * 500 + "1" + "}" * 500
        deep_big = '{"a":' * 3000 + "1" + "}" * 3000
        deep_stack = '{"a":' * 200000 + "1" + "}" * 200000
        near = lambda n: '{"p":"' + "x" * (n - 8) + '"}'  # canonical text: {"p": "xx..."}
        self.jsons = [
            "{}", '{"a":1}', '{"b": [1, 2, {"c": null}], "a": "x"}', '{"a":1,"a":2}', "[]",
            "[1]", "1", '"str"', '"{not an object"', "null", "true", "{", "}", '{"a":}', "",
            "not json", '{"a":"\\u0000"}', '{"a":"\\ud800"}', '{"a":"\\ud83d\\ude00"}',
            '{"😀":"кошелёк"}', '{"n":1e1000}', '{"n":1e1000000}', '{"n":-0}',
            '{"n":123456789012345678901234567890}', deep_ok, deep_big, deep_stack,
            near(8190), near(8192), near(8193), near(9000), '{"a":"' + "x" * 1_000_000 + '"}',
            '{"k":' + json.dumps("é" * 3000) + "}", '{"k":' + json.dumps("😀" * 2100) + "}",
            '{ "spaces" :  1 }', '{"nested":{"deeper":{"deepest":[[[[]]]]}}}',
        ]
        self.bad_uuids = ["not-a-uuid", "", "00000000-0000-0000-0000-00000000000",
                          "{12345678-1234-1234-1234-123456789abc}", "12345678123412341234123456789abc",
                          "ffffffff-ffff-ffff-ffff-ffffffffffff", "00000000-0000-0000-0000-000000000000",
                          "gggggggg-0000-0000-0000-000000000000"]
        self.schedules = ["* * * * *", "*/5 * * * *", "0 0 * * *", "garbage", "", "61 * * * *",
                          "1 seconds", "59 seconds", "* * * *", "* * * * * *", "@daily",
                          "0 0 31 2 *", "😀 * * * *"]

    def chance(self, p):
        return self.rng.random() < p

    def wallet(self):
        r = self.rng
        if self.wallets and self.chance(0.75):
            return r.choice(self.wallets)
        return r.choice([None, r.choice(self.odd_strings), "ghost-%d" % r.randrange(1000),
                         "a" * 200, "Z" * 201, "x/y/z", "agent:%d@acme" % r.randrange(9)])

    def new_wallet_id(self):
        r = self.rng
        return r.choice(["agent-%d" % r.randrange(10**6), "acme/team-%d/agent" % r.randrange(1000),
                         "w.%d_x:y@z-%d" % (r.randrange(100), r.randrange(100)),
                         "a" * 199 + str(r.randrange(10)), "%d" % r.randrange(10**9)])

    def amount(self, hold=None):
        r = self.rng
        x = r.random()
        if x < 0.08:
            return None
        if x < 0.16:
            return r.choice(self.bad_bigint_text)
        if x < 0.40:
            return big(r.choice(self.bigints))
        if x < 0.45 and hold is not None:
            return big(hold + r.choice([-1, 0, 1]))
        return big(r.choice([r.randrange(1, 100), r.randrange(1, 10**6), r.randrange(-5, 5)]))

    def int32(self):
        r = self.rng
        return r.choice([None, "0", "-1", "1", "100", "10000", "10001", "1000000", "1000001",
                         str(I32_MAX), str(I32_MIN), "2147483648", "x", str(r.randrange(1, 50))])

    def ttl(self):
        r = self.rng
        if self.chance(0.1):
            return None
        if self.chance(0.5):
            return r.choice(self.intervals)
        return r.choice(["%d seconds" % r.randrange(1, 120), "%d us" % r.randrange(1, 3000),
                         "%d minutes" % r.randrange(1, 60)])

    def key(self):
        r = self.rng
        x = r.random()
        if x < 0.06:
            return None
        if x < 0.25:
            return r.choice(self.odd_strings)
        self.keyn += 1
        return r.choice(["k%d" % self.keyn, "key/%d/é" % self.keyn, "%d-😀" % self.keyn])

    def metadata(self):
        r = self.rng
        if self.chance(0.5):
            return None
        return r.choice(self.jsons)

    def reservation(self, wallet):
        r = self.rng
        x = r.random()
        mine = [rid for (w, rid) in self.reservations if w == wallet]
        if x < 0.06:
            return None
        if x < 0.14:
            return r.choice(self.bad_uuids)
        if x < 0.25:
            return str(uuid.UUID(int=r.getrandbits(128)))
        if x < 0.35 and self.reservations:
            return str(r.choice(self.reservations)[1])  # possibly another wallet's
        if mine:
            return str(r.choice(mine[-20:]))
        return str(uuid.uuid4())

    # ------------------------------------------------------------ calls
    def call(self, fn, sql, args, types):
        """Calls fn and checks its outcome; returns (state, rows)."""
        self.calls += 1
        self.by_fn[fn] += 1
        state, rows = self.run(sql, args)
        self.by_state[state if not state.startswith("LOST") else "LOST"] += 1
        if state.startswith("LOST"):
            self.fail("%s: connection lost (server crash?): %s" % (fn, state), sql, args)
            self.crashes += 1
            if self.crashes >= 5:  # enough to report; a crashing server makes every call slow
                raise Crashed()
            self.connect()
            return state, rows
        conv = [self.converts(t, a) for t, a in zip(types, args) if t]
        bad = {c for c in conv if c != "ok"}
        if bad:
            if state == "ok" or state not in bad:
                self.fail("%s: an argument fails conversion with %s, but the call gave %s"
                          % (fn, sorted(bad), state), sql, args)
            return state, rows
        if state != "ok" and state not in ALLOWED[fn]:
            if (fn, state) in KNOWN and not self.strict:
                self.known[KNOWN[(fn, state)]] += 1
            else:
                self.fail("%s: undocumented SQLSTATE %s" % (fn, state), sql, args)
        if state == "ok":
            self.ok += 1
            for row in rows:
                self.check_row(fn, row, sql, args)
                if fn in BATCH_ELEMENT and row.get("sqlstate") not in BATCH_ELEMENT[fn]:
                    self.fail("%s: element %s has undocumented SQLSTATE %s"
                              % (fn, row.get("ordinal"), row.get("sqlstate")), sql, args)
        return state, rows

    def check_row(self, fn, row, sql, args):
        if "available" in row and row["available"] is not None and row.get("reserved") is not None:
            if row["available"] < 0 or row["reserved"] < 0:
                self.fail("%s: available %s, reserved %s" % (fn, row["available"], row["reserved"]),
                          sql, args)
            if row["available"] != row["balance"] - row["reserved"]:
                self.fail("%s: available != balance - reserved" % fn, sql, args)

    def write_call(self, fn, wallet, cols, types, extra=None):
        """A write; args is a list matching types. Records successes for retries."""
        names = ", ".join("%%s::%s" % t for t in types)
        sql = "SELECT * FROM ledger.%s(%s)" % (fn, names)
        state, rows = self.call(fn, sql, cols, types)
        if state == "ok" and rows:
            row = rows[0]
            if not row["replayed"]:
                self.writes.append((fn, sql, list(cols), types, row))
                if len(self.writes) > 400:
                    self.writes.pop(self.rng.randrange(len(self.writes)))
                self.after_write(fn, wallet, row, cols)
        return state, rows

    def after_write(self, fn, wallet, row, cols):
        key = (wallet, str(row["reservation_id"]))
        if fn == "ledger_reserve":
            self.reservations.append((wallet, row["reservation_id"]))
            self.expires[key] = row["expires_at"]
            self.held[key] = row["amount"]
        elif fn in ("ledger_settle", "ledger_cancel", "ledger_extend"):
            exp = self.expires.get(key)
            if exp is not None and row["at"] >= exp:
                self.fail("%s succeeded at %s on a hold that expired at %s" % (fn, row["at"], exp))
            if fn == "ledger_extend":
                self.expires[key] = row["expires_at"]
            if fn == "ledger_cancel" and key in self.held and row["amount"] != self.held[key]:
                self.fail("cancel released %s of a hold of %s" % (row["amount"], self.held[key]))

    def retry(self):
        """Repeats a successful write: identical args replay, another amount is LB007."""
        fn, sql, cols, types, first = self.rng.choice(self.writes)
        if self.chance(0.7):
            state, rows = self.call(fn, sql, cols, types)
            if state == "ok":
                row = rows[0]
                same = all(row[c] == first[c] for c in ("seq", "kind", "amount", "reservation_id", "at"))
                if not row["replayed"] or not same:
                    self.fail("%s: a retry with the same key did not replay the original (replayed=%s)"
                              % (fn, row["replayed"]), sql, cols)
            elif state != "22023":  # only a ttl above a lowered max_ttl may now be refused
                self.fail("%s: a retry with the same key gave %s" % (fn, state), sql, cols)
        elif fn in ("ledger_credit", "ledger_debit"):
            changed = list(cols)
            changed[1] = big(int(cols[1]) - 1 if int(cols[1]) > 1 else 2)
            state, _ = self.call(fn, sql, changed, types)
            if state != "LB007":
                self.fail("%s: a reused key with another amount gave %s, not LB007" % (fn, state),
                          sql, changed)

    def step(self):
        r = self.rng
        op = r.random()
        w = self.wallet()
        if op < 0.07:
            wid = self.new_wallet_id() if self.chance(0.6) else self.wallet()
            unit = r.choice(["credits", "usd_micros", "tokens", None, "", "bad unit", "u" * 32,
                             "u" * 33, "€", self.units.get(wid, "credits")])
            meta = self.metadata()
            form = r.random()
            if form < 0.2:
                state, rows = self.call("ledger_create_wallet",
                                        "SELECT * FROM ledger.ledger_create_wallet(%s::text)",
                                        [wid], ["text"])
                unit = "credits"
            else:
                state, rows = self.call(
                    "ledger_create_wallet",
                    "SELECT * FROM ledger.ledger_create_wallet(%s::text, %s::text, %s::jsonb)",
                    [wid, unit, meta], ["text", "text", "jsonb"])
            if state == "ok" and wid not in self.units:
                self.units[wid] = unit
                self.wallets.append(wid)
        elif op < 0.22:
            self.write_call("ledger_credit", w, [w, self.amount(), self.key(), self.metadata()],
                            ["text", "bigint", "text", "jsonb"])
        elif op < 0.30:
            self.write_call("ledger_debit", w, [w, self.amount(), self.key(), self.metadata()],
                            ["text", "bigint", "text", "jsonb"])
        elif op < 0.45:
            self.write_call("ledger_reserve", w,
                            [w, self.amount(), self.ttl(), self.key(), self.metadata()],
                            ["text", "bigint", "interval", "text", "jsonb"])
        elif op < 0.55:
            rid = self.reservation(w)
            hold = self.held.get((w, rid))
            self.write_call("ledger_settle", w,
                            [w, rid, self.amount(hold), self.key(), self.metadata()],
                            ["text", "uuid", "bigint", "text", "jsonb"])
        elif op < 0.61:
            self.write_call("ledger_cancel", w, [w, self.reservation(w), self.key(), self.metadata()],
                            ["text", "uuid", "text", "jsonb"])
        elif op < 0.67:
            self.write_call("ledger_extend", w, [w, self.reservation(w), self.ttl(), self.key()],
                            ["text", "uuid", "interval", "text"])
        elif op < 0.72:
            self.call("ledger_balance", "SELECT * FROM ledger.ledger_balance(%s::text)", [w], ["text"])
        elif op < 0.76:
            self.call("ledger_reservation",
                      "SELECT * FROM ledger.ledger_reservation(%s::text, %s::uuid)",
                      [w, self.reservation(w)], ["text", "uuid"])
        elif op < 0.80:
            if self.chance(0.2):
                self.call("ledger_history", "SELECT * FROM ledger.ledger_history(%s::text)", [w],
                          ["text"])
            else:
                self.call("ledger_history",
                          "SELECT * FROM ledger.ledger_history(%s::text, %s::bigint, %s::integer)",
                          [w, self.amount(), self.int32()], ["text", "bigint", "integer"])
        elif op < 0.83:
            if self.chance(0.3):
                self.call("ledger_expire", "SELECT ledger.ledger_expire()", [], [])
            else:
                self.call("ledger_expire", "SELECT ledger.ledger_expire(%s::integer)",
                          [self.int32()], ["integer"])
        elif op < 0.85:
            self.call("ledger_verify", "SELECT * FROM ledger.ledger_verify(%s::text)", [w], ["text"])
        elif op < 0.86:
            sched = r.choice(self.schedules + [None])
            self.call("ledger_schedule_expiry", "SELECT ledger.ledger_schedule_expiry(%s::text)",
                      [sched], ["text"])
            if self.chance(0.3):
                self.call("ledger_unschedule_expiry", "SELECT ledger.ledger_unschedule_expiry()", [], [])
        elif op < 0.8625:
            self.call("ledger_head", "SELECT * FROM ledger.ledger_head(%s::text)", [w], ["text"])
        elif op < 0.865:
            fn = r.choice(["ledger_grant", "ledger_revoke"])
            role = r.choice(["baseledger_client", "baseledger_auditor", "no_such_role", "", None,
                             "pg_monitor", "public"])
            priv = r.choice(["read", "spend", "write", "", None, "READ", "spend " * 50])
            self.call(fn, "SELECT ledger.%s(%%s::regrole, %%s::text, %%s::text)" % fn,
                      [role, w, priv], ["regrole", "text", "text"])
        elif op < 0.872:
            self.batch()
        elif op < 0.875:
            sql = r.choice(["UPDATE ledger.events SET amount = amount + 1 WHERE seq = 1",
                            "DELETE FROM ledger.events WHERE seq = 2",
                            "TRUNCATE ledger.events"])
            self.calls += 1
            self.by_fn["events_dml"] += 1
            state, _ = self.run(sql)
            self.by_state[state] += 1
            has_rows = self.run("SELECT count(*) AS n FROM ledger.events")[1][0]["n"] > 0
            if state != "42501" and (has_rows or not sql.startswith(("UPDATE", "DELETE"))):
                self.fail("events_dml: %s gave %s, not 42501" % (sql.split()[0], state), sql)
        elif op < 0.88:
            # Move the ledger's clock: holds lapse mid-run, or time steps back.
            off = r.choice(["0", "1s", "11s", "90s", "1h", "1d", "-1h", "-1s", "24d", "-24d",
                            "2147483647ms", "-2147483648ms", "%dms" % r.randrange(-10**6, 10**7)])
            state, _ = self.run("SET baseledger.clock_offset = '%s'" % off)
            if state != "ok":
                self.fail("SET baseledger.clock_offset = '%s' gave %s" % (off, state))
            if self.chance(0.2):
                ttl = r.choice(["1s", "1min", "1h", "1d", "30d", "2147483647s"])
                state, _ = self.run("SET baseledger.max_ttl = '%s'" % ttl)
                if state != "ok":
                    self.fail("SET baseledger.max_ttl = '%s' gave %s" % (ttl, state))
        elif self.writes:
            self.retry()

    def batch(self):
        """ledger_reserve_batch or ledger_settle_batch over a few elements."""
        r = self.rng
        n = r.choice([0, 1, 2, 3, 5, 20])
        arr = lambda xs: None if r.random() < 0.05 else "{" + ",".join(
            "NULL" if x is None else '"' + x.replace("\\", "\\\\").replace('"', '\\"') + '"'
            for x in xs) + "}"
        wallets = [self.wallet() for _ in range(n)]
        keys = [self.key() for _ in range(n)]
        metas = [self.metadata() for _ in range(n)] if r.random() < 0.5 else None
        if r.random() < 0.5:
            fn, types = "ledger_reserve_batch", ["text[]", "bigint[]", "interval[]", "text[]", "jsonb[]"]
            cols = [wallets, [self.amount() for _ in range(n)], [self.ttl() for _ in range(n)], keys, metas]
        else:
            fn, types = "ledger_settle_batch", ["text[]", "uuid[]", "bigint[]", "text[]", "jsonb[]"]
            rids = [self.reservation(w) for w in wallets]
            cols = [wallets, rids, [self.amount(self.held.get((w, x))) for w, x in zip(wallets, rids)],
                    keys, metas]
        if r.random() < 0.1 and n > 0:  # arrays of different lengths
            cols[r.randrange(4)].pop()
        args = [None if c is None else arr(c) for c in cols]
        names = ", ".join("%%s::%s" % t for t in types)
        state, rows = self.call(fn, "SELECT * FROM ledger.%s(%s)" % (fn, names), args, types)
        if state == "ok":
            for row in rows:
                if row.get("sqlstate") == "00000" and fn == "ledger_reserve_batch" and not row["replayed"]:
                    self.reservations.append((row["wallet_id"], row["reservation_id"]))
                    self.expires[(row["wallet_id"], str(row["reservation_id"]))] = row["expires_at"]
                    self.held[(row["wallet_id"], str(row["reservation_id"]))] = row["amount"]

    def verify_all(self, when):
        state, rows = self.call("ledger_verify", "SELECT * FROM ledger.ledger_verify()", [], [])
        if state != "ok":
            self.fail("ledger_verify() %s gave %s" % (when, state))
        for row in rows[:20]:
            self.fail("ledger_verify() %s: %s: %s" % (when, row["wallet_id"], row["problem"]))

    def main(self):
        self.run("SET client_min_messages = warning")
        for sql in ("DROP EXTENSION IF EXISTS baseledger CASCADE", "CREATE EXTENSION baseledger"):
            state, _ = self.run(sql)
            if state != "ok":
                self.fail("%s gave %s" % (sql, state))
                return
        for i in range(8):  # a few funded wallets so that the state machine moves
            wid = "seed-%d" % i
            self.call("ledger_create_wallet", "SELECT * FROM ledger.ledger_create_wallet(%s::text)",
                      [wid], ["text"])
            self.wallets.append(wid)
            self.units[wid] = "credits"
            self.call("ledger_credit", "SELECT * FROM ledger.ledger_credit(%s::text, %s::bigint, %s::text)",
                      [wid, "1000000", "seed"], ["text", "bigint", "text"])
        start = time.time()
        self.elapsed = 0.0
        while self.calls < self.target_calls:
            self.elapsed = time.time() - start
            self.step()
            if self.calls // 1000 != (self.calls - 1) // 1000 and self.calls > 0:
                self.verify_all("after %d calls" % self.calls)
        self.run("RESET baseledger.clock_offset")
        self.run("RESET baseledger.max_ttl")
        self.call("ledger_schedule_expiry", "SELECT ledger.ledger_schedule_expiry()", [], [])
        self.verify_all("at the end")
        self.elapsed = time.time() - start


def server_log_problems(path):
    pattern = re.compile(r"terminated by signal|PANIC:|TRAP:|was terminated by|"
                         r"AddressSanitizer|LeakSanitizer|runtime error:|server process .* exited")
    found = []
    with open(path, errors="replace") as f:
        for line in f:
            if pattern.search(line):
                found.append(line.rstrip()[:300])
    return found


def find_server_log(given):
    if given:
        return given
    root = os.environ.get("PG_CLUSTER_CONF_ROOT")  # pg_virtualenv -t keeps the log beside it
    if root:
        logs = glob.glob(os.path.join(os.path.dirname(root), "log", "*.log"))
        if logs:
            return logs[0]
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--log", help="the server's log file (found by itself under pg_virtualenv)")
    ap.add_argument("--report", help="write the summary as JSON to this file")
    ap.add_argument("--strict", action="store_true", help="count known issues as failures")
    a = ap.parse_args()
    seed = a.seed if a.seed is not None else random.SystemRandom().randrange(2**32)
    print("sql_fuzz: seed %d, %d calls" % (seed, a.calls), flush=True)
    f = Fuzzer(seed, a.calls, a.report, a.strict)
    f.elapsed = 0.0
    try:
        f.main()
    except Crashed:
        f.fail("stopped after %d lost connections" % f.crashes)

    checks_failed = len(f.failures)
    log = find_server_log(a.log)
    log_problems = []
    if log and os.path.exists(log):
        log_problems = server_log_problems(log)
        for p in log_problems[:20]:
            f.fail("server log: " + p)
        print("server log %s: %d problem lines" % (log, len(log_problems)))
    else:
        f.fail("server log not found: cannot check it for crashes")

    print("calls: %d (%d succeeded) in %.1fs, seed %d" % (f.calls, f.ok, f.elapsed, seed))
    print("by function: " + ", ".join("%s %d" % kv for kv in sorted(f.by_fn.items())))
    print("by outcome:  " + ", ".join("%s %d" % kv for kv in sorted(f.by_state.items())))
    for what, count in sorted(f.known.items()):
        print("known issue seen %d times: %s" % (count, what))
    print("problems: %d" % len(f.failures))
    if a.report:
        with open(a.report, "w") as out:
            json.dump({"seed": seed, "calls": f.calls, "succeeded": f.ok, "seconds": round(f.elapsed, 1),
                       "by_function": f.by_fn, "by_outcome": f.by_state, "known_issues": f.known,
                       "problems": f.failures}, out, indent=1)
    # Checks: one per call (its outcome), the server log, and the final verify.
    failed = len(f.failures)
    passed = max(f.calls - checks_failed, 0) + (0 if log_problems or not log else 1)
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
