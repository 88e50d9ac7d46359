#!/usr/bin/python3
"""Fleet workload: budgets of a whole agent fleet under concurrency.

Runs against the server named by the PG* environment (scripts/with-cluster.sh
sets it), in database PGDATABASE, where it re-creates the extension.

1. Org cap. One org ("fleet") with 10 teams and 50 agents: five teams capped
   with budgets of their own, five uncapped; in each team four uncapped agents
   and one capped agent. The org's budget is well below what the agents try to
   spend. 50 clients, one per agent, each on its own connection, reserve and
   then settle (sometimes with overage), cancel, debit, retry a call with the
   same key, or leave a short hold to lapse (half of them capturing on
   expiry), until a call budget or a time bound runs out. Afterwards, from the
   data: no event of any capped wallet ever has available below zero; what
   the org spent equals the sum over its teams and the sum over its agents;
   every agent event has its twin at the team and at the org; ledger_verify()
   returns no row; and refusals happened (the cap bit).

2. Requests per minute. 20 clients hammer one wallet with a minute limit of
   max_requests 50 for a few seconds, twice, on a ledger clock
   (baseledger.clock_offset) set so that each run starts one second into a
   calendar minute: exactly 50 calls are admitted in each minute.

Prints PASS/FAIL per check and ends with "N passed, M failed"; exits non-zero
when a check failed.
"""

import argparse
import random
import sys
import threading
import time

import psycopg

ORG = "fleet"
TEAMS = 10
AGENTS_PER_TEAM = 5
CAPPED_TEAMS = 5  # teams 0-4 capped, 5-9 uncapped

ORG_BUDGET = 400_000
TEAM_BUDGET = 100_000  # capped teams: 5 x 100000 = 500000 > the org's budget
AGENT_BUDGET = 15_000  # the one capped agent of each team

RPM_WALLET = "fleet-rpm"
RPM_LIMIT = 50

results = []


def check(name, ok, detail=""):
    results.append(bool(ok))
    print(("PASS " if ok else "FAIL ") + name + (": " + detail if detail else ""), flush=True)


def connect():
    return psycopg.connect(autocommit=True)


def sqlstate(exc):
    return getattr(exc, "sqlstate", None) or "?????"


def team_id(t):
    return f"{ORG}/t{t:02d}"


def agent_id(t, a):
    return f"{team_id(t)}/a{a}"


# ---------------------------------------------------------------- set-up


def set_up():
    with connect() as conn:
        conn.execute("SET client_min_messages = warning")
        conn.execute("DROP EXTENSION IF EXISTS baseledger CASCADE")
        conn.execute("CREATE EXTENSION baseledger")
        conn.execute("RESET client_min_messages")
        x = conn.execute
        x("SELECT ledger.ledger_create_wallet(%s)", (ORG,))
        x("SELECT ledger.ledger_credit(%s, %s, 'fund')", (ORG, ORG_BUDGET))
        for t in range(TEAMS):
            capped = t < CAPPED_TEAMS
            x("SELECT ledger.ledger_create_wallet(%s, capped => %s)", (team_id(t), capped))
            if capped:
                x("SELECT ledger.ledger_credit(%s, %s, 'fund')", (team_id(t), TEAM_BUDGET))
            for a in range(AGENTS_PER_TEAM):
                agent_capped = a == 0
                x("SELECT ledger.ledger_create_wallet(%s, capped => %s)",
                  (agent_id(t, a), agent_capped))
                if agent_capped:
                    x("SELECT ledger.ledger_credit(%s, %s, 'fund')", (agent_id(t, a), AGENT_BUDGET))
        x("SELECT ledger.ledger_create_wallet(%s)", (RPM_WALLET,))
        x("SELECT ledger.ledger_credit(%s, 1000000000, 'fund')", (RPM_WALLET,))
        x("SELECT ledger.ledger_set_limit(%s, 'minute', NULL, %s)", (RPM_WALLET, RPM_LIMIT))


# ---------------------------------------------------------------- 1. the org cap


class Agent(threading.Thread):
    def __init__(self, wallet, seed, calls, deadline, start):
        super().__init__(name=wallet)
        self.wallet = wallet
        self.rng = random.Random(seed)
        self.calls = calls
        self.deadline = deadline
        self.start_event = start
        self.n = 0
        self.stats = {"reserved": 0, "settled": 0, "overage": 0, "cancelled": 0, "debited": 0,
                      "abandoned": 0, "replayed": 0, "refused": 0, "overage_refused": 0}
        self.unexpected = []
        self.bad_replays = 0

    def key(self, what):
        self.n += 1
        return f"{self.wallet}:{what}:{self.n}"

    def run(self):
        try:
            with connect() as conn:
                self.start_event.wait()
                for _ in range(self.calls):
                    if time.monotonic() > self.deadline:
                        break
                    self.step(conn)
        except Exception as exc:  # a broken connection or a bug: reported as a failure
            self.unexpected.append(f"{type(exc).__name__}: {exc}")

    def call(self, conn, sql, args, refusals=("LB001",)):
        try:
            return conn.execute(sql, args).fetchone()
        except psycopg.Error as exc:
            if sqlstate(exc) in refusals:
                return sqlstate(exc)
            self.unexpected.append(f"{sqlstate(exc)} {exc} in {sql % tuple(map(repr, args))}")
            return None

    def step(self, conn):
        r = self.rng.random()
        if r < 0.1:
            amount = self.rng.randint(10, 150)
            row = self.call(conn, "SELECT kind FROM ledger.ledger_debit(%s, %s, %s)",
                            (self.wallet, amount, self.key("debit")))
            if row == "LB001":
                self.stats["refused"] += 1
            elif row is not None:
                self.stats["debited"] += 1
            return
        amount = self.rng.randint(20, 300)
        abandon = r > 0.97
        on_expire = "capture" if abandon and self.rng.random() < 0.5 else "refund"
        ttl = "2 seconds" if abandon else "1 minute"
        key = self.key("hold")
        sql = ("SELECT reservation_id, seq, replayed FROM ledger.ledger_reserve(%s, %s, %s::interval,"
               " %s, NULL, %s)")
        args = (self.wallet, amount, ttl, key, on_expire)
        row = self.call(conn, sql, args)
        if row == "LB001":
            self.stats["refused"] += 1
            return
        if row is None:
            return
        self.stats["reserved"] += 1
        rid, seq, _ = row
        if self.rng.random() < 0.05:
            again = self.call(conn, sql, args)
            if again is not None and again != "LB001":
                self.stats["replayed"] += 1
                if again[0] != rid or again[1] != seq or again[2] is not True:
                    self.bad_replays += 1
            else:
                self.bad_replays += 1
        if abandon:
            self.stats["abandoned"] += 1
            return
        r = self.rng.random()
        if r < 0.1:
            row = self.call(conn, "SELECT kind FROM ledger.ledger_cancel(%s, %s, %s)",
                            (self.wallet, rid, self.key("cancel")))
            if row is not None:
                self.stats["cancelled"] += 1
            return
        if r < 0.25:
            over = amount + self.rng.randint(1, 100)
            row = self.call(conn,
                            "SELECT kind FROM ledger.ledger_settle(%s, %s, %s, %s, NULL, true)",
                            (self.wallet, rid, over, self.key("overage")), refusals=("LB006",))
            if row == "LB006":
                self.stats["overage_refused"] += 1
            elif row is not None:
                self.stats["overage"] += 1
                return
            else:
                return
        captured = self.rng.randint(amount // 2, amount)
        row = self.call(conn, "SELECT kind FROM ledger.ledger_settle(%s, %s, %s, %s)",
                        (self.wallet, rid, captured, self.key("settle")))
        if row is not None:
            self.stats["settled"] += 1


def org_cap(args):
    start = threading.Event()
    deadline = time.monotonic() + args.duration
    agents = [Agent(agent_id(t, a), args.seed * 1000 + t * 10 + a, args.calls, deadline, start)
              for t in range(TEAMS) for a in range(AGENTS_PER_TEAM)]
    for agent in agents:
        agent.start()
    time.sleep(0.5)  # let every client connect
    began = time.monotonic()
    start.set()
    for agent in agents:
        agent.join(args.duration + 60)
    elapsed = time.monotonic() - began
    alive = [a.name for a in agents if a.is_alive()]

    totals = {}
    for agent in agents:
        for k, v in agent.stats.items():
            totals[k] = totals.get(k, 0) + v
    calls = sum(agent.n for agent in agents)
    print(f"org cap: {len(agents)} clients, {calls} calls in {elapsed:.1f} s: "
          + ", ".join(f"{k} {v}" for k, v in totals.items()), flush=True)
    unexpected = [u for agent in agents for u in agent.unexpected]
    check("org cap: every client finished", not alive, ", ".join(alive))
    check("org cap: no unexpected error", not unexpected,
          f"{len(unexpected)}, first: {unexpected[0]}" if unexpected else "")
    check("org cap: every retry replayed the original hold",
          sum(a.bad_replays for a in agents) == 0 and totals["replayed"] > 0,
          f"{totals['replayed']} retries, {sum(a.bad_replays for a in agents)} wrong")
    check("org cap: the cap refused calls", totals["refused"] > 0,
          f"{totals['refused']} refusals (LB001)")

    with connect() as conn:
        q = lambda sql, *a: conn.execute(sql, a).fetchall()
        # The lapsed short holds: a sweep ahead of their expiry closes them.
        conn.execute("SET baseledger.clock_offset = '5min'")
        q("SELECT ledger.ledger_expire()")
        conn.execute("RESET baseledger.clock_offset")
        left = q("SELECT count(*) FROM ledger.reservations WHERE state = 'active'")[0][0]
        check("org cap: every hold closed after the final sweep", left == 0, f"{left} active")

        capped = [w for (w,) in q("""SELECT w.wallet_id FROM ledger.wallets w,
                                            LATERAL ledger.ledger_policy(w.wallet_id) p
                                     WHERE (w.wallet_id = %s OR w.wallet_id LIKE %s) AND p.capped""",
                                  ORG, ORG + "/%")]
        check("org cap: the tree has 1 + 5 + 10 capped wallets", len(capped) == 16, str(len(capped)))
        below = q("""SELECT wallet_id, seq, kind, balance, reserved FROM ledger.events
                     WHERE wallet_id = ANY(%s) AND balance - reserved < 0
                     ORDER BY wallet_id, seq LIMIT 5""", capped)
        check("org cap: no event of a capped wallet has available below zero", not below,
              str(below))
        root_events = q("SELECT count(*), min(balance - reserved) FROM ledger.events WHERE wallet_id = %s",
                        ORG)[0]
        check("org cap: the org never went below zero available in any event",
              root_events[0] > 0 and root_events[1] >= 0,
              f"{root_events[0]} events, lowest available {root_events[1]}")

        # What each wallet spent: its credits minus its balance now.
        spent = dict(q("""SELECT w.wallet_id,
                                 coalesce((SELECT sum(amount) FROM ledger.events e
                                            WHERE e.wallet_id = w.wallet_id AND e.kind = 'credit'), 0)
                                 - w.balance
                            FROM ledger.wallets w
                           WHERE w.wallet_id = %s OR w.wallet_id LIKE %s""", ORG, ORG + "/%"))
        root = spent[ORG]
        teams = sum(spent[team_id(t)] for t in range(TEAMS))
        agents_sum = sum(spent[agent_id(t, a)] for t in range(TEAMS) for a in range(AGENTS_PER_TEAM))
        check("org cap: the org spent something, and at most its budget",
              0 < root <= ORG_BUDGET, f"{root} of {ORG_BUDGET}")
        check("org cap: spent at the org = sum over teams = sum over agents",
              root == teams == agents_sum, f"org {root}, teams {teams}, agents {agents_sum}")
        per_team = [(t, spent[team_id(t)],
                     sum(spent[agent_id(t, a)] for a in range(AGENTS_PER_TEAM))) for t in range(TEAMS)]
        bad_teams = [p for p in per_team if p[1] != p[2]]
        check("org cap: spent at each team = sum over its agents", not bad_teams, str(bad_teams))
        # The same from the holds and debits of the agents.
        captured = q("""SELECT coalesce(sum(captured), 0) FROM ledger.reservations
                        WHERE wallet_id LIKE %s""", ORG + "/%")[0][0]
        debited = q("""SELECT coalesce(sum(amount), 0) FROM ledger.events
                       WHERE wallet_id LIKE %s AND kind = 'debit' AND idempotency_key IS NOT NULL""",
                    ORG + "/%")[0][0]
        check("org cap: captured by the agents' holds + their debits = spent at the org",
              captured + debited == root, f"captured {captured} + debited {debited} vs {root}")
        # Every agent event has its twin at its team and at the org.
        counts = q("""SELECT kind::text,
                             count(*) FILTER (WHERE wallet_id = %s),
                             count(*) FILTER (WHERE wallet_id ~ '^fleet/t[0-9]+$'),
                             count(*) FILTER (WHERE wallet_id ~ '^fleet/t[0-9]+/a[0-9]+$')
                        FROM ledger.events
                       WHERE (wallet_id = %s OR wallet_id LIKE %s) AND kind NOT IN ('credit', 'extend')
                       GROUP BY kind ORDER BY kind""", ORG, ORG, ORG + "/%")
        check("org cap: each agent event has one event at its team and one at the org",
              counts and all(r[1] == r[2] == r[3] for r in counts),
              "; ".join(f"{k}: org {a}, teams {b}, agents {c}" for k, a, b, c in counts))
        twins = q("""WITH a AS (
                        SELECT e.*, regexp_replace(e.wallet_id, '/[^/]*$', '') AS team
                          FROM ledger.events e
                         WHERE e.wallet_id ~ '^fleet/t[0-9]+/a[0-9]+$' AND e.kind <> 'credit')
                      SELECT count(*) FROM a
                       WHERE NOT EXISTS (SELECT 1 FROM ledger.events p
                                          WHERE p.wallet_id = a.team AND p.at = a.at
                                            AND p.kind = a.kind AND p.amount = a.amount
                                            AND p.reservation_id IS NOT DISTINCT FROM a.reservation_id
                                            AND p.idempotency_key IS NULL)
                          OR NOT EXISTS (SELECT 1 FROM ledger.events p
                                          WHERE p.wallet_id = %s AND p.at = a.at
                                            AND p.kind = a.kind AND p.amount = a.amount
                                            AND p.reservation_id IS NOT DISTINCT FROM a.reservation_id
                                            AND p.idempotency_key IS NULL)""", ORG)[0][0]
        check("org cap: the twins carry the agent event's time, kind, amount and hold", twins == 0,
              f"{twins} agent events without both twins")
        held = q("SELECT reserved, active_reservations FROM ledger.ledger_balance(%s)", ORG)[0]
        check("org cap: nothing is held at the org at the end", held == (0, 0), str(held))
        problems = q("SELECT wallet_id, problem FROM ledger.ledger_verify()")
        check("org cap: ledger_verify() returns no row", not problems, str(problems[:5]))


# ---------------------------------------------------------------- 2. requests per minute


class Hammer(threading.Thread):
    def __init__(self, n, phase, offset_ms, seconds, start):
        super().__init__(name=f"rpm-{phase}-{n}")
        self.n = n
        self.phase = phase
        self.offset_ms = offset_ms
        self.seconds = seconds
        self.start_event = start
        self.admitted = 0
        self.refused = 0
        self.settled = 0
        self.unexpected = []

    def run(self):
        try:
            with connect() as conn:
                conn.execute(f"SET baseledger.clock_offset = {int(self.offset_ms)}")
                self.start_event.wait()
                end = time.monotonic() + self.seconds
                i = 0
                while time.monotonic() < end:
                    i += 1
                    key = f"rpm:{self.phase}:{self.n}:{i}"
                    try:
                        if i % 2:
                            rid = conn.execute(
                                "SELECT reservation_id FROM ledger.ledger_reserve(%s, 1, '1 hour', %s)",
                                (RPM_WALLET, key)).fetchone()[0]
                            self.admitted += 1
                            # A settle is not a request: it goes through at the cap.
                            conn.execute("SELECT ledger.ledger_settle(%s, %s, 1, %s)",
                                         (RPM_WALLET, rid, key + ":settle"))
                            self.settled += 1
                        else:
                            conn.execute("SELECT ledger.ledger_debit(%s, 1, %s)", (RPM_WALLET, key))
                            self.admitted += 1
                    except psycopg.Error as exc:
                        if sqlstate(exc) == "LB008":
                            self.refused += 1
                        else:
                            self.unexpected.append(f"{sqlstate(exc)} {exc}")
        except Exception as exc:
            self.unexpected.append(f"{type(exc).__name__}: {exc}")


def rpm(args):
    with connect() as conn:
        now = conn.execute("SELECT extract(epoch FROM clock_timestamp())::float8").fetchone()[0]
    first_minute = (int(now) // 60 + 1) * 60  # the next calendar minute, on the real clock
    total_admitted = 0
    for phase in range(2):
        target = first_minute + 60 * phase + 1  # one second into the minute
        start = threading.Event()
        with connect() as conn:
            now = conn.execute("SELECT extract(epoch FROM clock_timestamp())::float8").fetchone()[0]
        offset_ms = (target - now) * 1000 - 500  # the clients start about half a second later
        hammers = [Hammer(n, phase, offset_ms, args.rpm_seconds, start) for n in range(args.rpm_clients)]
        for h in hammers:
            h.start()
        time.sleep(0.5)
        start.set()
        for h in hammers:
            h.join(args.rpm_seconds + 60)
        admitted = sum(h.admitted for h in hammers)
        refused = sum(h.refused for h in hammers)
        settled = sum(h.settled for h in hammers)
        unexpected = [u for h in hammers for u in h.unexpected]
        total_admitted += admitted
        print(f"rpm minute {phase + 1}: {len(hammers)} clients, admitted {admitted}, "
              f"refused {refused} (LB008), settled {settled}", flush=True)
        check(f"rpm minute {phase + 1}: no unexpected error", not unexpected,
              f"{len(unexpected)}, first: {unexpected[0]}" if unexpected else "")
        check(f"rpm minute {phase + 1}: exactly {RPM_LIMIT} calls admitted", admitted == RPM_LIMIT,
              str(admitted))
        check(f"rpm minute {phase + 1}: the cap refused calls", refused > 0, str(refused))
    with connect() as conn:
        buckets = conn.execute(
            """SELECT date_trunc('minute', at, 'UTC') AS minute, count(*) FROM ledger.events
                WHERE wallet_id = %s AND kind IN ('reserve', 'debit')
                GROUP BY 1 ORDER BY 1""", (RPM_WALLET,)).fetchall()
        counts = [c for _, c in buckets]
        check(f"rpm: the events fall in two calendar minutes of {RPM_LIMIT} each",
              counts == [RPM_LIMIT, RPM_LIMIT], str(counts))
        minutes_ok = len(buckets) == 2 and int(buckets[0][0].timestamp()) == first_minute
        check("rpm: the first one is the minute the clock was set to", minutes_ok,
              str([str(m) for m, _ in buckets]))
        problems = conn.execute("SELECT * FROM ledger.ledger_verify(%s)", (RPM_WALLET,)).fetchall()
        check("rpm: ledger_verify() returns no row", not problems, str(problems[:5]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=30, help="seconds of the org workload at most")
    parser.add_argument("--calls", type=int, default=300, help="calls per agent client at most")
    parser.add_argument("--rpm-clients", type=int, default=20)
    parser.add_argument("--rpm-seconds", type=float, default=4)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    try:
        set_up()
        check("set-up: the org, 10 teams, 50 agents and the rpm wallet", True)
    except Exception as exc:
        check("set-up: the org, 10 teams, 50 agents and the rpm wallet", False, str(exc))
    else:
        for part in (org_cap, rpm):
            try:
                part(args)
            except Exception as exc:
                check(f"{part.__name__}: ran to the end", False, f"{type(exc).__name__}: {exc}")
    passed = sum(results)
    failed = len(results) - passed
    print(f"{passed} passed, {failed} failed", flush=True)
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
