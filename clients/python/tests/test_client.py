"""Tests of baseledger_client against a real server.

Run inside a throwaway cluster (the PG* variables point at it):

    bash scripts/with-cluster.sh /usr/bin/python3 -m pytest clients/python/tests

The module creates the extension afresh in the database it is given and uses
wallet ids of its own.
"""

from __future__ import annotations

import io
import os
import sys
import threading
import time
import uuid
from datetime import timedelta

import psycopg
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "examples"))

import baseledger_client as bl  # noqa: E402
import fleet  # noqa: E402
from proxy import FlakyProxy  # noqa: E402


@pytest.fixture(scope="module")
def admin():
    conn = psycopg.connect(autocommit=True)
    conn.execute("SET client_min_messages = warning")
    conn.execute("DROP EXTENSION IF EXISTS baseledger CASCADE")
    conn.execute("CREATE EXTENSION baseledger")
    yield conn
    conn.close()


@pytest.fixture
def ledger(admin):
    with bl.Ledger() as ledger:
        yield ledger


@pytest.fixture
def wallet(ledger):
    """A new wallet with 1000 credits."""
    wallet_id = "py-%s" % uuid.uuid4().hex[:12]
    ledger.create_wallet(wallet_id)
    ledger.credit(wallet_id, 1000, "fund")
    return wallet_id


def events(admin, wallet_id):
    return [tuple(r) for r in admin.execute(
        "SELECT kind::text, amount FROM ledger.events WHERE wallet_id = %s ORDER BY seq",
        (wallet_id,))]


def verify(admin):
    return admin.execute("SELECT * FROM ledger.ledger_verify()").fetchall()


# ---------------------------------------------------------------- typed errors

def test_sqlstates_map_to_typed_errors(ledger, wallet):
    with pytest.raises(bl.WalletNotFound) as e:
        ledger.balance("py-nobody-%s" % uuid.uuid4().hex[:8])
    assert e.value.sqlstate == "LB002"
    with pytest.raises(bl.InsufficientFunds) as e:
        ledger.debit(wallet, 5000, "too-much")
    assert e.value.sqlstate == "LB001"
    with pytest.raises(bl.InvalidArgument) as e:
        ledger.debit(wallet, 0, "zero")
    assert e.value.sqlstate == "22023"
    with pytest.raises(bl.ReservationNotFound):
        ledger.settle(wallet, uuid.uuid4(), 1, "ghost")
    with pytest.raises(bl.UnitMismatch):
        ledger.create_wallet(wallet, "usd_micros")

    r = ledger.reserve(wallet, 100, 60, "r1")
    with pytest.raises(bl.CaptureExceedsHold):
        ledger.settle(wallet, r.reservation_id, 101, "s1")
    ledger.settle(wallet, r.reservation_id, 40, "s1")
    with pytest.raises(bl.ReservationClosed):
        ledger.cancel(wallet, r.reservation_id, "c1")
    with pytest.raises(bl.IdempotencyConflict):
        ledger.debit(wallet, 7, "s1")
    # Every typed error is a LedgerError with the server's message.
    with pytest.raises(bl.LedgerError, match="insufficient funds"):
        ledger.debit(wallet, 10**6, "way-too-much")


def test_expired_hold_is_a_typed_error(ledger, wallet):
    r = ledger.reserve(wallet, 100, timedelta(seconds=1), "short")
    assert ledger.balance(wallet).available == 900
    time.sleep(1.2)
    assert ledger.balance(wallet).available == 1000
    with pytest.raises(bl.ReservationExpired) as e:
        ledger.settle(wallet, r.reservation_id, 50, "late-settle")
    assert e.value.sqlstate == "LB005"


# ---------------------------------------------------------------- the hold

def test_hold_settles_with_reported_usage(ledger, wallet, admin):
    with ledger.hold(wallet, 300, ttl=60, key="call-1") as hold:
        assert ledger.balance(wallet).available == 700
        hold.report(137)
    assert hold.result.kind == "settle" and hold.result.amount == 137
    assert ledger.balance(wallet).balance == 863
    assert events(admin, wallet) == [("credit", 1000), ("reserve", 300), ("settle", 137)]


def test_hold_cancels_on_exception(ledger, wallet, admin):
    with pytest.raises(RuntimeError, match="model down"):
        with ledger.hold(wallet, 300, key="call-2"):
            raise RuntimeError("model down")
    assert ledger.balance(wallet).balance == 1000
    assert ledger.balance(wallet).available == 1000
    assert events(admin, wallet) == [("credit", 1000), ("reserve", 300), ("cancel", 300)]


def test_hold_bills_what_a_failed_stream_used(ledger, wallet, admin):
    with pytest.raises(RuntimeError):
        with ledger.hold(wallet, 300, key="call-3") as hold:
            hold.add(40)
            hold.add(30)
            raise RuntimeError("stream cut")
    assert hold.result.kind == "settle" and hold.result.amount == 70
    assert ledger.balance(wallet).balance == 930


def test_unreported_usage_captures_the_hold_or_cancels(ledger, wallet):
    with ledger.hold(wallet, 250, key="call-4") as hold:
        pass
    assert (hold.result.kind, hold.result.amount) == ("settle", 250)
    with ledger.hold(wallet, 250, key="call-5", on_unreported="cancel") as hold:
        pass
    assert hold.result.kind == "cancel"
    assert ledger.balance(wallet).balance == 750


def test_usage_above_the_hold_is_capped_and_kept_as_overage(ledger, wallet):
    with ledger.hold(wallet, 100, key="call-6") as hold:
        hold.report(130)
    assert hold.result.amount == 100 and hold.overage == 30


def test_refused_call_never_runs(ledger, wallet):
    ran = False
    with pytest.raises(bl.InsufficientFunds):
        with ledger.hold(wallet, 5000, key="call-7"):
            ran = True
    assert not ran
    assert ledger.balance(wallet).reserved == 0


def test_a_retried_block_does_not_charge_twice(ledger, wallet):
    for _ in range(2):
        with ledger.hold(wallet, 300, key="call-8") as hold:
            hold.report(100)
    assert hold.result.replayed
    assert ledger.balance(wallet).balance == 900


# ---------------------------------------------------------------- heartbeat

def slow_stream(chunks, pause):
    for c in chunks:
        time.sleep(pause)
        yield c


def test_heartbeat_keeps_a_hold_alive_while_the_stream_runs(ledger, wallet, admin):
    # A 1-second hold around a stream that lasts about 2 seconds.
    with ledger.hold(wallet, 300, ttl=1, key="call-9") as hold:
        for tokens in hold.stream(slow_stream([10] * 5, 0.4), every=0.3):
            hold.add(tokens)
    assert hold.heartbeat_error is None
    assert hold.extensions >= 4
    assert (hold.result.kind, hold.result.amount) == ("settle", 50)
    kinds = [k for k, _ in events(admin, wallet)]
    assert kinds.count("extend") == hold.extensions
    assert kinds[-1] == "settle"


def test_without_heartbeat_the_same_stream_loses_its_hold(ledger, wallet):
    with pytest.raises(bl.ReservationExpired):
        with ledger.hold(wallet, 300, ttl=1, key="call-10") as hold:
            for tokens in slow_stream([10] * 5, 0.4):
                hold.add(tokens)
    # The hold lapsed: nothing is held and nothing was charged.
    b = ledger.balance(wallet)
    assert (b.balance, b.reserved) == (1000, 0)


# ---------------------------------------------------------------- budgets for fleets

@pytest.fixture
def team(ledger):
    """A tree: an org with 1000 credits and a team under it with 500 of its
    own (each level is a budget); returns the team's id."""
    org = "pyorg-%s" % uuid.uuid4().hex[:12]
    ledger.create_wallet(org)
    ledger.credit(org, 1000, "fund")
    team_id = org + "/team"
    ledger.create_wallet(team_id)
    ledger.credit(team_id, 500, "fund")
    return team_id


def test_insufficient_funds_names_the_level_that_refused(ledger, team):
    org = team.split("/")[0]
    with pytest.raises(bl.InsufficientFunds) as e:
        ledger.debit(team, 600, "d1")
    assert e.value.detail == 'Wallet "%s" has 500 available; 600 was requested.' % team
    ledger.credit(team, 2000, "more")
    with pytest.raises(bl.InsufficientFunds) as e:
        ledger.debit(team, 1500, "d2")
    assert e.value.detail == 'Wallet "%s" has 1000 available; 1500 was requested.' % org


def test_a_child_needs_its_parent(ledger, team):
    with pytest.raises(bl.WalletNotFound) as e:
        ledger.create_wallet(team + "/nobody/agent")
    assert e.value.sqlstate == "LB002"
    assert (team + "/nobody") in (e.value.detail or "")


def test_uncapped_agent_spends_its_teams_budget(ledger, team):
    agent = team + "/agent-u"
    b = ledger.create_wallet(agent, capped=False)
    assert b.balance == 0
    ledger.debit(agent, 200, "d1")
    assert ledger.balance(agent).balance == -200
    assert ledger.balance(team).balance == 300
    with pytest.raises(bl.LedgerError) as e:
        ledger.credit(agent, 10, "c1")
    assert e.value.sqlstate == "55000"
    # The same wallet asked for capped: refused like another unit.
    with pytest.raises(bl.UnitMismatch):
        ledger.create_wallet(agent)


def test_concurrency_cap_is_a_typed_error(ledger, team, admin):
    agent = team + "/agent-1"
    ledger.create_wallet(agent, capped=False)
    admin.execute("SELECT ledger.ledger_set_concurrency(%s, 1)", (team,))
    ran = False
    with ledger.hold(agent, 10, key="c-1") as first:
        with pytest.raises(bl.LimitReached) as e:
            with ledger.hold(agent, 10, key="c-2"):
                ran = True
        first.report(4)
    assert not ran
    assert e.value.sqlstate == "LB008"
    assert str(e.value) == "concurrency limit reached"
    assert e.value.detail == 'Wallet "%s" has 1 active reservations; its limit is 1.' % team
    assert isinstance(e.value, bl.LedgerError)
    # The first hold is closed: the cap admits the next one.
    with ledger.hold(agent, 10, key="c-3") as hold:
        hold.report(6)
    assert ledger.balance(team).balance == 490


def test_period_limits_are_typed_errors(ledger, team, admin):
    # A month: the test does not straddle a period boundary in practice.
    admin.execute("SELECT ledger.ledger_set_limit(%s, 'month', 100, NULL)", (team,))
    ledger.debit(team, 90, "d1")
    with pytest.raises(bl.LimitReached) as e:
        ledger.debit(team, 20, "d2")
    assert (e.value.sqlstate, str(e.value)) == ("LB008", "period amount limit reached")
    assert e.value.detail == \
        'Wallet "%s" has used 90 of its month limit of 100; 20 was requested.' % team
    # The refused debit left no trace: 10 more still fit.
    ledger.debit(team, 10, "d2")

    # Both bounds NULL removes the team's limit; the org gets a request limit,
    # which counts the requests of its whole tree from now on.
    admin.execute("SELECT ledger.ledger_set_limit(%s, 'month', NULL, NULL)", (team,))
    org = team.split("/")[0]
    admin.execute("SELECT ledger.ledger_set_limit(%s, 'month', NULL, 2)", (org,))
    ledger.debit(team, 1, "d3")
    ledger.debit(org, 1, "d4")
    with pytest.raises(bl.LimitReached) as e:
        with ledger.hold(team, 1, key="r-1"):
            pass
    assert str(e.value) == "period request limit reached"
    assert e.value.detail == 'Wallet "%s" has admitted 2 of its month limit of 2 requests.' % org


def test_hold_with_allow_overage_settles_the_whole_usage(ledger, wallet, admin):
    with ledger.hold(wallet, 100, key="o-1", allow_overage=True) as hold:
        hold.report(130)
    assert (hold.result.kind, hold.result.amount, hold.overage) == ("settle", 130, 0)
    assert ledger.balance(wallet).balance == 870
    assert ledger.reservation(wallet, hold.reservation_id).captured == 130
    # An excess that does not fit what is available: the hold is captured
    # and the excess kept, as without allow_overage.
    with ledger.hold(wallet, 100, key="o-2", allow_overage=True) as hold:
        hold.report(1000)
    assert (hold.result.amount, hold.overage) == (100, 900)
    assert ledger.balance(wallet).balance == 770
    # The same block run again replays the settle it made.
    with ledger.hold(wallet, 100, key="o-2", allow_overage=True) as again:
        again.report(1000)
    assert again.result.replayed and again.overage == 900
    assert ledger.balance(wallet).balance == 770
    # Without the flag, the ledger refuses to capture above the hold.
    r = ledger.reserve(wallet, 50, 60, "o-3")
    with pytest.raises(bl.CaptureExceedsHold):
        ledger.settle(wallet, r.reservation_id, 60, "o-3/settle")
    assert ledger.settle(wallet, r.reservation_id, 60, "o-3/settle",
                         allow_overage=True).amount == 60
    assert events(admin, wallet)[-2:] == [("reserve", 50), ("settle", 60)]
    assert verify(admin) == []


def test_on_expire_capture_charges_a_lapsed_hold(ledger, wallet, admin):
    r = ledger.reserve(wallet, 100, timedelta(seconds=1), "cap", on_expire="capture")
    assert ledger.reservation(wallet, r.reservation_id).on_expire == "capture"
    time.sleep(1.2)
    # Lapsed and not yet swept: the held amount is already spent.
    b = ledger.balance(wallet)
    assert (b.reserved, b.available) == (0, 900)
    admin.execute("SELECT ledger.ledger_expire()")
    res = ledger.reservation(wallet, r.reservation_id)
    assert (res.state, res.captured, res.on_expire) == ("expired", 100, "capture")
    b = ledger.balance(wallet)
    assert (b.balance, b.reserved, b.available) == (900, 0, 900)
    # A hold made by a Hold with on_expire="capture" carries it too.
    with ledger.hold(wallet, 10, key="cap-2", on_expire="capture") as hold:
        assert ledger.reservation(wallet, hold.reservation_id).on_expire == "capture"
        hold.report(3)
    assert ledger.balance(wallet).balance == 897


# ---------------------------------------------------------------- retries

def test_retry_after_the_connection_dropped(ledger, wallet, admin):
    ledger.balance(wallet)  # opens this thread's connection
    pid = ledger._connection().info.backend_pid
    admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    time.sleep(0.1)
    r = ledger.debit(wallet, 10, "after-kill")
    assert not r.replayed
    assert ledger._connection().info.backend_pid != pid
    assert ledger.balance(wallet).balance == 990


def test_lost_reply_is_retried_with_the_same_key(wallet, admin):
    host = os.environ.get("PGHOST", "localhost")
    upstream = "127.0.0.1" if host in ("localhost", "") or host.startswith("/") else host
    proxy = FlakyProxy(upstream, int(os.environ.get("PGPORT", "5432")))
    try:
        with bl.Ledger(host="127.0.0.1", port=proxy.port) as flaky:
            flaky.balance(wallet)
            proxy.drop_next_reply()
            r = flaky.debit(wallet, 25, "lost-reply")
            # The first attempt committed; its reply was lost; the retry
            # found it and replayed it.
            assert proxy.dropped == 1
            assert r.replayed
            assert proxy.connections == 2
            # A reserve whose reply is lost yields the same hold.
            proxy.drop_next_reply()
            with flaky.hold(wallet, 100, key="lost-reserve") as hold:
                hold.report(60)
            assert proxy.dropped == 2
    finally:
        proxy.close()
    assert events(admin, wallet) == [("credit", 1000), ("debit", 25), ("reserve", 100),
                                     ("settle", 60)]
    assert verify(admin) == []


def test_unreachable_server_gives_up_after_the_retries(admin):
    s = __import__("socket").socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    with bl.Ledger(host="127.0.0.1", port=port, retries=2, backoff=0.01,
                   connect_timeout=2) as nowhere:
        with pytest.raises(bl.LedgerUnavailable, match="after 3 attempts"):
            nowhere.balance("py/x")


# ---------------------------------------------------------------- threads and the fleet

def test_concurrent_holds_never_overspend(ledger, wallet, admin):
    refused = []

    def agent(n):
        for i in range(10):
            try:
                with ledger.hold(wallet, 60, key="t%d-%d" % (n, i)) as hold:
                    hold.report(50)
            except bl.InsufficientFunds:
                refused.append(1)

    threads = [threading.Thread(target=agent, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    b = ledger.balance(wallet)
    assert b.reserved == 0 and b.balance >= 0
    assert 1000 - b.balance == 50 * (60 - len(refused))
    assert len(refused) >= 40
    assert verify(admin) == []


def test_fleet_example(ledger, admin):
    out = io.StringIO()
    wallet = "fleet-test-%s" % uuid.uuid4().hex[:8]
    totals = fleet.run_fleet(ledger, wallet, agents=6, calls=15, budget=12000, seed=3, out=out)
    report = out.getvalue()
    print(report)
    assert totals["agree"], report
    assert totals["calls"] == 90
    assert totals["refused"] > 0  # the budget ran out
    assert totals["failed"] > 0   # some calls failed and were cancelled or billed in part
    assert totals["ok"] + totals["failed"] + totals["refused"] == 90
    assert 0 < totals["ledger_spent"] <= 12000
    assert totals["reserved"] == 0
    assert "the ledger agrees with the agents' count" in report
    assert verify(admin) == []


def test_fleet_example_from_the_command_line(admin):
    import subprocess
    run = subprocess.run(
        [sys.executable, os.path.join(HERE, "..", "examples", "fleet.py"),
         "--agents", "3", "--calls", "6", "--budget", "1500", "--wallet",
         "fleet-cli-%s" % uuid.uuid4().hex[:8]],
        capture_output=True, text=True, timeout=120)
    print(run.stdout, run.stderr)
    assert run.returncode == 0
    assert "3 agents x 6 calls against a budget of 1500 credits" in run.stdout
    assert "the ledger agrees with the agents' count" in run.stdout
