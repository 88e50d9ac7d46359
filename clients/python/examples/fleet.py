#!/usr/bin/python3
"""A simulated fleet of agents spending one budget through baseledger.

Each agent runs in a thread and makes calls to a pretend LLM: it holds the
call's worst case (max_tokens x price) before the call, streams the response
while the hold is kept alive, and settles with the tokens the response really
used. Some calls fail: before any token (the hold is cancelled) or halfway
(what was streamed is billed). When the budget can no longer cover a worst
case, the call is refused before it is made. At the end the ledger must show
exactly what the agents counted, and never more spent than the budget.

    python3 examples/fleet.py --agents 8 --calls 25 --budget 20000

Connects with the usual PG* environment variables (or --dsn).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import timedelta

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import baseledger_client as bl  # noqa: E402


class ModelError(Exception):
    """The pretend model failed (a timeout, a 500, a cut stream)."""


def pretend_llm(rng: random.Random, max_tokens: int, fail_rate: float):
    """Yields chunks of tokens, like a streamed completion."""
    used = rng.randint(max_tokens // 8, max_tokens)
    fails = rng.random() < fail_rate
    fail_at = rng.randint(0, used) if fails else None
    sent = 0
    while sent < used:
        if fail_at is not None and sent >= fail_at:
            raise ModelError("stream cut after %d tokens" % sent)
        chunk = min(rng.randint(8, 64), used - sent)
        time.sleep(rng.uniform(0, 0.002))
        sent += chunk
        yield chunk
    if fail_at is not None:
        raise ModelError("stream cut at its end")


def run_agent(ledger: bl.Ledger, wallet: str, name: str, calls: int, max_tokens: int,
              price: int, fail_rate: float, seed: int, stats: Counter, lock: threading.Lock):
    rng = random.Random("%s/%s" % (seed, name))
    mine = Counter()
    for i in range(calls):
        worst_case = max_tokens * price
        try:
            with ledger.hold(wallet, worst_case, ttl=timedelta(seconds=30),
                             key="%s/call-%d" % (name, i), metadata={"agent": name}) as hold:
                for tokens in hold.stream(pretend_llm(rng, max_tokens, fail_rate), every=10):
                    hold.add(tokens * price)
            mine["ok"] += 1
            mine["spent"] += hold.result.amount
        except bl.InsufficientFunds:
            mine["refused"] += 1
        except ModelError:
            mine["failed"] += 1
            # A failed call is billed for what it streamed, or nothing.
            mine["spent"] += hold.result.amount if hold.result.kind == "settle" else 0
            mine["cancelled"] += hold.result.kind == "cancel"
        mine["calls"] += 1
    with lock:
        stats[name] = mine


def run_fleet(ledger: bl.Ledger, wallet: str, agents: int = 8, calls: int = 25,
              budget: int = 20000, max_tokens: int = 400, price: int = 1,
              fail_rate: float = 0.1, seed: int = 7, out=sys.stdout) -> dict:
    """Runs the fleet against a new wallet funded with ``budget``; prints a
    report and returns the totals with the ledger's own figures."""
    ledger.create_wallet(wallet, metadata={"example": "fleet"})
    ledger.credit(wallet, budget, "budget")
    stats: dict = {}
    lock = threading.Lock()
    threads = [threading.Thread(target=run_agent, name="agent-%d" % n,
                                args=(ledger, wallet, "agent-%d" % n, calls, max_tokens, price,
                                      fail_rate, seed, stats, lock))
               for n in range(1, agents + 1)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started

    total = Counter()
    print("%d agents x %d calls against a budget of %d credits (wallet %s)"
          % (agents, calls, budget, wallet), file=out)
    print("%-10s %6s %6s %7s %8s %8s" % ("agent", "calls", "ok", "failed", "refused", "spent"),
          file=out)
    for name in sorted(stats, key=lambda s: int(s.split("-")[1])):
        s = stats[name]
        total.update(s)
        print("%-10s %6d %6d %7d %8d %8d" % (name, s["calls"], s["ok"], s["failed"],
                                               s["refused"], s["spent"]), file=out)
    print("%-10s %6d %6d %7d %8d %8d" % ("total", total["calls"], total["ok"], total["failed"],
                                           total["refused"], total["spent"]), file=out)

    balance = ledger.balance(wallet)
    ledger_spent = budget - balance.balance
    print("spent %d of %d, %d left, %d held; %d calls refused; %.1f s"
          % (ledger_spent, budget, balance.available, balance.reserved, total["refused"],
             elapsed), file=out)
    agree = ledger_spent == total["spent"] and balance.reserved == 0
    print("the ledger %s the agents' count" % ("agrees with" if agree else "DISAGREES with"),
          file=out)
    return {"calls": total["calls"], "ok": total["ok"], "failed": total["failed"],
            "refused": total["refused"], "cancelled": total["cancelled"],
            "spent": total["spent"], "ledger_spent": ledger_spent,
            "available": balance.available, "reserved": balance.reserved,
            "budget": budget, "agree": agree}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dsn", default="", help="libpq conninfo (default: PG* variables)")
    ap.add_argument("--wallet", default=None,
                    help="budget wallet id (default: a new root wallet; a child id such as "
                         "acme/fleet needs its parent to exist)")
    ap.add_argument("--agents", type=int, default=8)
    ap.add_argument("--calls", type=int, default=25, help="calls per agent")
    ap.add_argument("--budget", type=int, default=20000)
    ap.add_argument("--max-tokens", type=int, default=400)
    ap.add_argument("--fail-rate", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    wallet = args.wallet or "fleet-demo-%s" % uuid.uuid4().hex[:8]
    with bl.Ledger(args.dsn) as ledger:
        totals = run_fleet(ledger, wallet, args.agents, args.calls, args.budget,
                           args.max_tokens, 1, args.fail_rate, args.seed)
    return 0 if totals["agree"] and totals["ledger_spent"] <= args.budget else 1


if __name__ == "__main__":
    sys.exit(main())
