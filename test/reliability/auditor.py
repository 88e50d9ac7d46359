#!/usr/bin/python3
"""The independent auditor of the reliability workload.

It reads the ledger's tables in one REPEATABLE READ snapshot and the clients'
logs, recomputes every wallet and reservation from the event log with its own
code (nothing is shared with the extension's replay), and checks the ledger's
guarantees. Each check is reported as passed or failed with examples.

    /usr/bin/python3 auditor.py --logdir DIR [--final] [--json OUT]

Without --final the audit may run while the workload goes on (after a crash
and restart, say): it then checks only what must hold at any instant, and an
acknowledged call must be present when its acknowledgment came before the
snapshot. With --final (once the clients have stopped) it first runs ledger_expire()
itself, then also checks that no hold that had lapsed before that call is
still active.
"""

import argparse
import bisect
import json
import sys
import time
from collections import defaultdict


from common import BUSINESS, TRANSIENT, connect, now_us, read_logs

# Time slack between the client's clock and the server's (same machine), used
# only where a client-observed time window is compared with event times.
SLACK_US = 5_000
# A hold whose expiry falls within this margin of a decision may be counted
# either way by the ledger (its events are stamped microseconds apart).
EDGE_US = 2_000
CLOSING = {"settle": "settled", "cancel": "cancelled", "expire": "expired"}

CHECKS = [
    ("verify_clean", "ledger_verify() returns no rows"),
    ("seq_contiguous", "per wallet, seq is 1..n without gaps"),
    ("at_increasing", "per wallet, event times strictly increase"),
    ("event_projection", "each event's balance and reserved equal the recomputation"),
    ("wallet_projection", "ledger.wallets equals the recomputation from events"),
    ("reservation_rows", "ledger.reservations equals the recomputation from events"),
    ("no_overdraft", "no event or wallet has available (balance - reserved) or reserved below zero"),
    ("reservation_lifecycle", "one reserve event per hold, at most one closing event, nothing after it"),
    ("no_expired_capture", "no settle, cancel or extend at or after the hold's expires_at; expire only after it"),
    ("lapsed_expired_first", "a write first expires every hold of its wallet that had lapsed"),
    ("keys_unique", "command events carry a key, expire events none, no key twice in a wallet"),
    ("acked_present", "every acknowledged call is in the log exactly once, with its arguments and result"),
    ("no_phantom", "every keyed event is a call a client made; no call that definitely failed is present"),
    ("replays_equal", "replays equal the original result; only a committed call replays"),
    ("errors_justified", "every error a client met was a documented SQLSTATE the ledger's state justified"),
    ("client_anomalies", "no client saw an inconsistent read or a silently rolled back COMMIT"),
    ("final_no_lapsed_active", "after a final ledger_expire(), no active hold has passed its expires_at"),
]
FINAL_ONLY = {"final_no_lapsed_active"}


# ---------------------------------------------------------------- loading

def final_expire(conn, tries=50):
    """Runs ledger_expire() until no hold that had lapsed before the call is
    left active; returns (holds expired, the cut-off time). ledger_expire()
    skips wallets another session holds (the pg_cron job, say), hence the loop."""
    us = "(extract(epoch FROM clock_timestamp()) * 1000000)::bigint"
    total = 0
    for _ in range(tries):
        cutoff = conn.execute(f"SELECT {us}").fetchone()[0]
        total += conn.execute("SELECT ledger.ledger_expire()").fetchone()[0]
        left = conn.execute(
            "SELECT count(*) FROM ledger.reservations WHERE state = 'active' "
            "AND expires_at <= to_timestamp(%s / 1000000.0)", (cutoff,)).fetchone()[0]
        if left == 0:
            break
        time.sleep(0.1)
    return total, cutoff


def load_db(conn):
    """Everything in one REPEATABLE READ snapshot; times as epoch microseconds."""
    us = "(extract(epoch FROM {0}) * 1000000)::bigint"
    conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    snap = now_us()
    conn.execute("SELECT 1")  # takes the snapshot
    db_now = conn.execute(f"SELECT {us.format('clock_timestamp()')}").fetchone()[0]
    events = conn.execute(
        "SELECT wallet_id, seq, kind::text, amount, reservation_id::text, idempotency_key, "
        f"balance, reserved, {us.format('expires_at')}, {us.format('at')}, metadata::text "
        "FROM ledger.events ORDER BY wallet_id, seq").fetchall()
    wallets = conn.execute(
        "SELECT wallet_id, balance, reserved, active_reservations, last_seq, "
        f"{us.format('last_at')} FROM ledger.wallets").fetchall()
    reservations = conn.execute(
        "SELECT wallet_id, reservation_id::text, amount, captured, state::text, "
        f"{us.format('expires_at')}, {us.format('created_at')}, {us.format('updated_at')} "
        "FROM ledger.reservations").fetchall()
    verify = conn.execute("SELECT wallet_id, problem FROM ledger.ledger_verify()").fetchall()
    conn.execute("COMMIT")
    return snap, db_now, events, wallets, reservations, verify


class Hold:
    __slots__ = ("rid", "wallet", "amount", "exp", "state", "captured", "created", "updated",
                 "reserve_events", "closed_at", "closed_kind", "exp_changes")

    def __init__(self, rid, wallet):
        self.rid = rid
        self.wallet = wallet
        self.amount = None
        self.exp = None
        self.state = None
        self.captured = 0
        self.created = None
        self.updated = None
        self.reserve_events = 0
        self.closed_at = None
        self.closed_kind = None
        self.exp_changes = []  # (at, expires_at) of the reserve and each extend

    def exp_at(self, t):
        """The hold's expires_at as of time t (after every change stamped <= t)."""
        i = bisect.bisect_right(self.exp_changes, (t, float("inf"))) - 1
        return self.exp_changes[i][1] if i >= 0 else None


class Auditor:
    def __init__(self, logdir, final):
        self.logdir = logdir
        self.final = final
        self.problems = {name: [] for name, _ in CHECKS}
        self.stats = {}

    def bad(self, check, msg):
        self.problems[check].append(msg)

    # ------------------------------------------------------------ the event log

    def replay_wallet(self, wallet, evs, holds):
        """Recomputes one wallet from its events; returns the projection."""
        bal = res = active = 0
        prev_at = None
        chain_start = None  # first time of the run of expire events before this event
        prev_kind = None
        open_holds = {}
        for n, e in enumerate(evs, start=1):
            (_, seq, kind, amount, rid, key, e_bal, e_res, e_exp, at, _meta) = e
            where = f"{wallet} seq {seq}"
            if seq != n:
                self.bad("seq_contiguous", f"{wallet}: event #{n} has seq {seq}")
            if prev_at is not None and at <= prev_at:
                self.bad("at_increasing", f"{where}: at {at} not after {prev_at}")
            # The decision's first event (the first of its expire events) is
            # the time at which every lapsed hold must be expired.
            if prev_kind == "expire" and prev_at is not None and at == prev_at + 1:
                pass
            else:
                chain_start = at
            if kind != "expire":
                for h in open_holds.values():
                    if h.exp <= chain_start:
                        self.bad("lapsed_expired_first",
                                 f"{where} ({kind}) at {at}: hold {h.rid} lapsed at {h.exp} "
                                 "is still open")
            if (key is None) != (kind == "expire"):
                self.bad("keys_unique", f"{where}: {kind} event with key {key!r}")
            if kind == "credit":
                bal += amount
            elif kind == "debit":
                bal -= amount
            elif kind == "reserve":
                h = holds.get(rid)
                if h is None:
                    h = holds[rid] = Hold(rid, wallet)
                h.reserve_events += 1
                if h.reserve_events > 1:
                    self.bad("reservation_lifecycle", f"{where}: second reserve event of {rid}")
                    continue
                if e_exp is None or e_exp <= at:
                    self.bad("reservation_lifecycle", f"{where}: reserve expires at {e_exp}")
                h.amount, h.exp, h.state = amount, e_exp, "active"
                h.created = h.updated = at
                h.exp_changes.append((at, e_exp))
                open_holds[rid] = h
                res += amount
                active += 1
            else:
                h = holds.get(rid)
                if h is None or h.reserve_events == 0:
                    self.bad("reservation_lifecycle", f"{where}: {kind} of unknown hold {rid}")
                elif h.state != "active":
                    self.bad("reservation_lifecycle",
                             f"{where}: {kind} of hold {rid} already {h.state}")
                else:
                    if kind == "expire":
                        if at < h.exp:
                            self.bad("no_expired_capture",
                                     f"{where}: hold {rid} expired at {at}, before its "
                                     f"expires_at {h.exp}")
                    elif at >= h.exp:
                        self.bad("no_expired_capture",
                                 f"{where}: {kind} of hold {rid} at {at}, at or after its "
                                 f"expires_at {h.exp} ({(at - h.exp) / 1000:.1f} ms late)")
                    if kind == "extend":
                        if amount != 0 or e_exp is None or e_exp <= at:
                            self.bad("reservation_lifecycle",
                                     f"{where}: extend amount {amount} expires_at {e_exp}")
                        else:
                            h.exp = e_exp
                            h.exp_changes.append((at, e_exp))
                        h.updated = at
                    else:
                        if kind == "settle":
                            if not 0 <= amount <= h.amount:
                                self.bad("reservation_lifecycle",
                                         f"{where}: settle captures {amount} of {h.amount}")
                            bal -= amount
                            h.captured = amount
                        elif amount != h.amount:
                            self.bad("reservation_lifecycle",
                                     f"{where}: {kind} releases {amount} of {h.amount}")
                        res -= h.amount
                        active -= 1
                        h.state = CLOSING[kind]
                        h.closed_at, h.closed_kind = at, kind
                        h.updated = at
                        open_holds.pop(rid, None)
            if e_bal != bal or e_res != res:
                self.bad("event_projection",
                         f"{where} ({kind}): stored balance/reserved {e_bal}/{e_res}, "
                         f"recomputed {bal}/{res}")
            if e_bal - e_res < 0 or e_res < 0:
                self.bad("no_overdraft",
                         f"{where} ({kind} {amount}): balance {e_bal} reserved {e_res}, "
                         f"available {e_bal - e_res}")
            prev_at = at
            prev_kind = kind
        return bal, res, active, len(evs), prev_at

    def check_db(self, events, wallets, reservations, verify, cutoff):
        for w, p in verify:
            self.bad("verify_clean", f"{w}: {p}")
        by_wallet = defaultdict(list)
        for e in events:
            by_wallet[e[0]].append(e)
        self.by_wallet = by_wallet
        self.holds = {}
        stored = {w[0]: w[1:] for w in wallets}
        for wallet in sorted(set(by_wallet) | set(stored)):
            evs = by_wallet.get(wallet, [])
            got = self.replay_wallet(wallet, evs, self.holds)
            if wallet not in stored:
                self.bad("wallet_projection", f"{wallet}: events but no wallet row")
                continue
            bal, res, active, last_seq, last_at = stored[wallet]
            if (bal, res, active, last_seq, last_at) != got:
                self.bad("wallet_projection",
                         f"{wallet}: stored (balance, reserved, active, last_seq, last_at) = "
                         f"{(bal, res, active, last_seq, last_at)}, recomputed {got}")
            if bal - res < 0 or res < 0:
                self.bad("no_overdraft", f"{wallet}: stored balance {bal} reserved {res}")
        rows = {(r[0], r[1]): r for r in reservations}
        for rid, h in self.holds.items():
            row = rows.pop((h.wallet, rid), None)
            if row is None:
                self.bad("reservation_rows", f"{h.wallet}: hold {rid} has events but no row")
                continue
            _, _, amount, captured, state, exp, created, updated = row
            want = (h.amount, h.captured, h.state, h.exp, h.created, h.updated)
            got = (amount, captured, state, exp, created, updated)
            if want != got:
                self.bad("reservation_rows",
                         f"{h.wallet}: hold {rid} stored (amount, captured, state, expires_at, "
                         f"created_at, updated_at) = {got}, recomputed {want}")
        for (w, rid) in rows:
            self.bad("reservation_rows", f"{w}: row of hold {rid} without a reserve event")
        if self.final:
            for rid, h in self.holds.items():
                if h.state == "active" and h.exp <= cutoff:
                    self.bad("final_no_lapsed_active",
                             f"{h.wallet}: hold {rid} still active after ledger_expire(), "
                             f"expired {(cutoff - h.exp) / 1e6:.3f} s before the call")
        # Keys: unique per wallet.
        self.keyed = {}
        for e in events:
            if e[5] is None:
                continue
            k = (e[0], e[5])
            if k in self.keyed:
                self.bad("keys_unique", f"{e[0]}: key {e[5]} on seq {self.keyed[k][1]} and {e[1]}")
            else:
                self.keyed[k] = e
        self.stats.update(
            events=len(events), wallets=len(wallets), reservations=len(reservations),
            expire_events=sum(1 for e in events if e[2] == "expire"),
            settled=sum(1 for h in self.holds.values() if h.state == "settled"),
            cancelled=sum(1 for h in self.holds.values() if h.state == "cancelled"),
            expired=sum(1 for h in self.holds.values() if h.state == "expired"),
            active=sum(1 for h in self.holds.values() if h.state == "active"))

    # ------------------------------------------------------------ the client logs

    def check_logs(self, records, snap):
        calls = {}  # cid -> {"attempts": [...], "outcomes": [...]}
        for r in records:
            ev = r.get("ev")
            if ev == "violation":
                self.bad("client_anomalies", f"client saw: {r.get('what')} (call {r.get('cid')})")
                continue
            if ev not in ("attempt", "ack", "fail", "unknown", "aborted"):
                continue
            c = calls.setdefault(r["cid"], {"attempts": {}, "outcomes": []})
            if ev == "attempt":
                c["attempts"][r["tr"]] = r
            else:
                c["outcomes"].append(r)
        n_acked = n_replays = n_lost_reply = n_after_unknown = n_unknown_open = 0
        n_unknown_replayed = 0
        n_attempts = 0
        failures = []
        by_key = defaultdict(list)
        for cid, c in calls.items():
            atts = c["attempts"]
            if not atts:
                continue
            n_attempts += len(atts)
            first = atts[min(atts)]
            by_key[(first["w"], first["k"])].append(cid)
            for a in atts.values():
                if (a["w"], a["k"], a["kind"], a["a"], a.get("probe")) != \
                        (first["w"], first["k"], first["kind"], first["a"], first.get("probe")):
                    self.bad("client_anomalies", f"{cid}: attempts with different arguments")
            outs = sorted(c["outcomes"], key=lambda o: (o["tr"], o["t1"]))
            self.check_call(cid, first, atts, outs, snap, failures)
            acks = [o for o in outs if o["ev"] == "ack"]
            if acks and not first.get("probe"):
                n_acked += 1
                n_replays += sum(1 for o in acks if o["r"]["replayed"])
                n_lost_reply += sum(1 for o in acks if atts[o["tr"]].get("lost_reply"))
                n_after_unknown += sum(1 for o in acks if atts[o["tr"]].get("after_unknown"))
                n_unknown_replayed += sum(1 for o in acks if atts[o["tr"]].get("after_unknown")
                                          and o["r"]["replayed"])
            if outs and outs[-1]["ev"] == "unknown":
                n_unknown_open += 1
        # A key is used by one call only, apart from the LB007 probes.
        for (w, k), cids in by_key.items():
            real = [cid for cid in cids if not calls[cid]["attempts"][min(calls[cid]["attempts"])].get("probe")]
            if len(real) > 1:
                self.bad("client_anomalies", f"{w}: key {k} used by calls {real}")
        # Every keyed event must be a call some client made with those arguments.
        self.calls_by_key = {}
        for (w, k), cids in by_key.items():
            for cid in cids:
                first = calls[cid]["attempts"][min(calls[cid]["attempts"])]
                if not first.get("probe"):
                    self.calls_by_key[(w, k)] = (cid, first)
        for (w, k), e in self.keyed.items():
            if (w, k) not in self.calls_by_key:
                self.bad("no_phantom", f"{w} seq {e[1]}: key {k} was never sent by a client")
                continue
            cid, first = self.calls_by_key[(w, k)]
            self.match_event(cid, first, e, "no_phantom")
        self.check_failures(failures)
        self.stats.update(calls=len(calls), attempts=n_attempts, acked_calls=n_acked,
                          replayed_acks=n_replays, lost_reply_acks=n_lost_reply,
                          acks_after_lost_connection=n_after_unknown,
                          replayed_after_lost_connection=n_unknown_replayed,
                          unresolved_unknown=n_unknown_open, errors_checked=len(failures))

    def match_event(self, cid, a, e, check):
        """The event must be the call: kind, wallet, amounts, hold, metadata."""
        (w, seq, kind, amount, rid, key, _b, _r, exp, at, meta) = e
        args = a["a"]
        want_kind = a["kind"]
        problems = []
        if kind != want_kind:
            problems.append(f"kind {kind}, call was {want_kind}")
        if want_kind in ("credit", "debit", "reserve", "settle") and amount != args["amount"]:
            problems.append(f"amount {amount}, call said {args['amount']}")
        if want_kind in ("settle", "cancel", "extend") and rid != args["rid"]:
            problems.append(f"hold {rid}, call named {args['rid']}")
        if want_kind == "cancel":
            h = self.holds.get(rid)
            if h is not None and amount != h.amount:
                problems.append(f"cancel released {amount} of {h.amount}")
        if want_kind == "extend" and amount != 0:
            problems.append(f"extend amount {amount}")
        if want_kind in ("reserve", "extend") and exp is not None and \
                exp != at + args["ttl_ms"] * 1000:
            problems.append(f"expires_at {exp} is not at {at} + {args['ttl_ms']} ms")
        want_meta = args.get("meta")
        got_meta = json.loads(meta) if meta is not None else None
        if want_kind != "extend" and got_meta != want_meta:
            problems.append(f"metadata {got_meta}, call sent {want_meta}")
        if problems:
            self.bad(check, f"{w} seq {seq} key {key} (call {cid}): " + "; ".join(problems))
            return False
        return True

    def check_call(self, cid, first, atts, outs, snap, failures):
        w, k, kind = first["w"], first["k"], first["kind"]
        probe = first.get("probe")
        e = self.keyed.get((w, k))
        acks = [o for o in outs if o["ev"] == "ack"]
        if probe:
            # A deliberate misuse: must fail with its SQLSTATE (a transient
            # failure before that is fine) and leave nothing behind.
            for o in acks:
                self.bad("errors_justified", f"{cid}: probe expecting {probe} was acknowledged: {o['r']}")
            for o in outs:
                if o["ev"] == "fail" and o["state"] not in (probe, *TRANSIENT, "ROLLBACK"):
                    self.bad("errors_justified",
                             f"{cid}: probe ({kind} on {w}) expected {probe}, got {o['state']}")
            if probe != "LB007" and e is not None:
                self.bad("no_phantom", f"{cid}: probe {probe} left event seq {e[1]} on {w}")
            return
        # Acknowledged calls must be present (those acknowledged before the
        # audit's snapshot: a running audit cannot see later commits).
        visible_acks = [o for o in acks if o["t1"] < snap]
        if visible_acks and e is None:
            self.bad("acked_present",
                     f"{cid}: {kind} on {w} key {k} acknowledged (seq {visible_acks[0]['r']['seq']}) "
                     "but not in the event log")
        if e is not None:
            for o in acks:
                r = o["r"]
                got = (e[1], e[2], e[4], e[3], e[6], e[7], e[6] - e[7], e[8], e[9])
                want = (r["seq"], r["kind"], r["rid"], r["amount"], r["balance"], r["reserved"],
                        r["available"], r["exp"], r["at"])
                if got != want:
                    self.bad("acked_present",
                             f"{cid}: result {want} differs from its event {got}")
            if acks:
                self.match_event(cid, first, e, "acked_present")
        # Replays: equal to the first result; only after a possible commit.
        non_replayed = [o for o in acks if not o["r"]["replayed"]]
        if len(non_replayed) > 1:
            self.bad("replays_equal", f"{cid}: applied {len(non_replayed)} times (replayed=false)")
        if acks:
            ref = {f: v for f, v in acks[0]["r"].items() if f != "replayed"}
            for o in acks[1:]:
                got = {f: v for f, v in o["r"].items() if f != "replayed"}
                if got != ref:
                    self.bad("replays_equal", f"{cid}: retry result {got} differs from {ref}")
        # Walk the tries in order: a try without an outcome yet is in flight.
        outs_by_try = {o["tr"]: o for o in outs}
        may_have_committed = False
        for tr in sorted(atts):
            o = outs_by_try.get(tr)
            if o is None or o["ev"] == "unknown":
                may_have_committed = True
            elif o["ev"] == "ack":
                if o["r"]["replayed"] and not may_have_committed:
                    self.bad("replays_equal",
                             f"{cid}: try {tr} replayed although no earlier try can have "
                             f"committed ({[x['ev'] for x in outs]})")
                may_have_committed = True
            elif o["ev"] == "fail" and o["state"] not in TRANSIENT and \
                    o.get("cause") not in TRANSIENT and not acks:
                # A business failure after a lost connection proves that the
                # earlier try had not committed: a committed one would replay.
                may_have_committed = False
        if not acks and not may_have_committed and e is not None:
            self.bad("no_phantom",
                     f"{cid}: {kind} on {w} key {k} definitely failed "
                     f"({[(o['ev'], o.get('state')) for o in outs]}) but is event seq {e[1]}")
        for o in outs:
            if o["ev"] == "fail" and o["state"] not in TRANSIENT and o["state"] != "ROLLBACK":
                failures.append((cid, first, atts[o["tr"]], o))

    # ------------------------------------------------------------ errors

    def check_failures(self, failures):
        """Each business error must be one the ledger's state justified."""
        lb001 = defaultdict(list)
        for cid, first, att, o in failures:
            state, kind, w = o["state"], first["kind"], first["w"]
            if state not in BUSINESS.get(kind, set()):
                self.bad("errors_justified", f"{cid}: {kind} on {w} failed with {state}, "
                         "not a documented outcome of this call")
                continue
            if o["t1"] >= self.snap - SLACK_US:
                continue  # decided after the snapshot's events: not judged now
            if att.get("pos", 0) != 0:
                continue  # judged on an earlier uncommitted call of its transaction
            a, b = o["t0"] - SLACK_US, o["t1"] + SLACK_US
            if state == "LB001":
                lb001[w].append((a, b, first["a"]["amount"], cid, kind))
                continue
            h = self.holds.get(first["a"]["rid"])
            if h is None or h.wallet != w:
                self.bad("errors_justified", f"{cid}: {kind} met {state} but hold "
                         f"{first['a']['rid']} is not in wallet {w}'s events")
                continue
            if state == "LB006":
                if first["a"]["amount"] <= h.amount:
                    self.bad("errors_justified",
                             f"{cid}: settle of {first['a']['amount']} refused as above the hold's {h.amount}")
            elif state == "LB004":
                if h.closed_kind not in ("settle", "cancel") or h.closed_at > b:
                    self.bad("errors_justified",
                             f"{cid}: {kind} refused as closed (LB004) but the hold was "
                             f"{h.closed_kind or 'open'} at {h.closed_at}, call ended at {b}")
            elif state == "LB005":
                if not self.expired_within(h, a, b):
                    self.bad("errors_justified",
                             f"{cid}: {kind} refused as expired (LB005) but hold {h.rid} was live "
                             f"from {a} to {b} (expires_at then {h.exp_at(b)})")
        for w, fails in lb001.items():
            self.check_lb001(w, fails)

    def expired_within(self, h, a, b):
        """Was the hold expired (swept or lapsed) at some instant of [a, b]?"""
        if h.closed_kind == "expire" and h.closed_at <= b:
            return True
        cands = [b] + [t - 1 for t, _ in h.exp_changes if a < t <= b]
        if h.closed_at is not None and a < h.closed_at <= b:
            cands.append(h.closed_at - 1)
        for t in cands:
            if t < a:
                continue
            if h.closed_at is not None and h.closed_at <= t:
                continue  # closed by settle or cancel: that is LB004's case
            exp = h.exp_at(t)
            if exp is not None and exp <= t + EDGE_US:
                return True
        return False

    def check_lb001(self, wallet, fails):
        """An insufficient-funds refusal needs available < amount at some
        instant of the call: available counts only holds live at that instant."""
        evs = self.by_wallet.get(wallet, [])
        fails.sort()
        bal = 0
        open_h = {}
        i = 0

        def apply(e, bal, open_h):
            kind, amount, rid = e[2], e[3], e[4]
            if kind == "credit":
                return bal + amount
            if kind == "debit":
                return bal - amount
            if kind == "reserve":
                open_h[rid] = [e[3], e[8]]
            elif kind == "extend":
                if rid in open_h:
                    open_h[rid][1] = e[8]
            else:
                open_h.pop(rid, None)
                if kind == "settle":
                    return bal - amount
            return bal

        def available(bal, open_h, t):
            return bal - sum(amt for amt, exp in open_h.values() if exp > t - EDGE_US)

        for a, b, amount, cid, kind in fails:
            while i < len(evs) and evs[i][9] <= a:
                bal = apply(evs[i], bal, open_h)
                i += 1
            lowest = available(bal, open_h, a)
            bal2, open2 = bal, {r: list(v) for r, v in open_h.items()}
            j = i
            while j < len(evs) and evs[j][9] <= b:
                bal2 = apply(evs[j], bal2, open2)
                lowest = min(lowest, available(bal2, open2, evs[j][9]))
                j += 1
            if lowest >= amount:
                self.bad("errors_justified",
                         f"{cid}: {kind} of {amount} on {wallet} refused as insufficient funds "
                         f"(LB001) but at least {lowest} was available throughout the call")

    # ------------------------------------------------------------ driver

    def run(self, conn):
        cutoff = None
        if self.final:
            self.stats["final_expired"], cutoff = final_expire(conn)
        snap, _db_now, events, wallets, reservations, verify = load_db(conn)
        self.snap = snap
        self.check_db(events, wallets, reservations, verify, cutoff)
        self.check_logs(read_logs(self.logdir), snap)
        return self.report()

    def report(self):
        results = []
        for name, desc in CHECKS:
            if name in FINAL_ONLY and not self.final:
                continue
            results.append({"check": name, "description": desc,
                            "problems": len(self.problems[name]),
                            "examples": self.problems[name][:5]})
        return {"final": self.final, "stats": self.stats, "checks": results,
                "passed": sum(1 for r in results if r["problems"] == 0),
                "failed": sum(1 for r in results if r["problems"] > 0)}


def print_report(rep, out=sys.stdout, prefix=""):
    for r in rep["checks"]:
        status = "ok  " if r["problems"] == 0 else "FAIL"
        print(f"{prefix}{status} {r['check']}: {r['description']}"
              + (f" -- {r['problems']} problem(s)" if r["problems"] else ""), file=out)
        for ex in r["examples"]:
            print(f"{prefix}       e.g. {ex}", file=out)
    print(f"{prefix}audit: {rep['passed']} checks passed, {rep['failed']} failed; "
          + ", ".join(f"{k}={v}" for k, v in sorted(rep["stats"].items())), file=out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--logdir", required=True)
    ap.add_argument("--final", action="store_true")
    ap.add_argument("--json")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()
    with connect("reliability-auditor", autocommit=True, timeout=10) as conn:
        rep = Auditor(args.logdir, args.final).run(conn)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(rep, f, indent=1)
    if not args.quiet:
        print_report(rep)
    return 0 if rep["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
