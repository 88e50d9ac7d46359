#!/usr/bin/python3
"""Randomized concurrent workload with crash recovery and an independent audit.

Runs inside scripts/with-cluster.sh (see run.sh). Recreates the extension in
the cluster's database, creates a few hot and many cold wallets, and runs N
clients for S seconds (or until the call budget is spent) while a sweeper
calls ledger_expire() and, with --crashes K, the postmaster is SIGKILLed K
times at random moments and restarted. After each restart ledger_verify() and
the auditor run; at the end a last ledger_expire() and the final audit.

With --self-test it instead runs short scenarios against deliberately broken
behaviour (sabotage.py) and asserts that the auditor reports each one, after
a clean control run that must pass.

Ends with "N passed, M failed", counting each audit check, each verify after
a restart, the server-log check and each self-test assertion as one test.
"""

import argparse
import json
import os
import random
import subprocess
import sys
import threading
import time


import sabotage
from auditor import print_report
from clients import Call, Client, Shared, Sweeper
from cluster import Cluster
from common import connect, read_logs

HERE = os.path.dirname(os.path.abspath(__file__))


def log(msg):
    print(time.strftime("%H:%M:%S ") + msg, flush=True)


class Tally:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.failures = []

    def add(self, ok, name):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            self.failures.append(name)


def reset_extension(cfg, logdir):
    """A fresh extension and the wallets, each credited through the ledger."""
    with connect("reliability-setup") as conn:
        conn.execute("SET client_min_messages = warning")
        conn.execute("DROP EXTENSION IF EXISTS baseledger CASCADE")
        conn.execute("CREATE EXTENSION baseledger")
        conn.execute("DROP FUNCTION IF EXISTS public.racy_debit(text, bigint, text, float8)")
        conn.execute("DROP FUNCTION IF EXISTS public.stale_reserve(text, bigint, interval, text, jsonb)")
    shared = Shared(cfg)
    setup = Client(999, shared, logdir, seed=999, name="setup")
    wallets = shared.hot + shared.cold + list(cfg.extra_wallets)
    with connect("reliability-setup") as conn:
        for w in wallets:
            conn.execute("SELECT ledger.ledger_create_wallet(%s::text)", (w,))
    for w in wallets:
        amount = cfg.hot_start if w.startswith("hot") else cfg.cold_start
        if w.startswith("stuck"):
            amount = 1000  # one hold of 900 leaves less than 500
        res = setup.execute([Call(f"init-{w}", w, "credit", {"amount": amount, "meta": None})],
                            "auto")
        if res is None:
            raise RuntimeError(f"could not credit {w}")
    setup.drop_conn()
    setup.log.close()
    return shared


def run_audit(logdir, final, tag):
    """Runs the auditor as its own process; returns its report."""
    out = os.path.join(logdir, f"audit-{tag}.json")
    cmd = [sys.executable, os.path.join(HERE, "auditor.py"), "--logdir", logdir, "--json", out,
           "--quiet"]
    if final:
        cmd.append("--final")
    t0 = time.time()
    rc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if not os.path.exists(out):
        raise RuntimeError(f"auditor failed (exit {rc.returncode}):\n{rc.stdout}")
    with open(out, encoding="utf-8") as f:
        rep = json.load(f)
    rep["seconds"] = round(time.time() - t0, 1)
    return rep


def verify_rows():
    with connect("reliability-verify", timeout=5) as conn:
        return conn.execute("SELECT wallet_id, problem FROM ledger.ledger_verify()").fetchall()


class CrashController(threading.Thread):
    """SIGKILLs the postmaster at random moments and restarts it; after each
    restart runs ledger_verify() and the auditor while the clients go on."""

    def __init__(self, cluster, shared, cfg, logdir, start, tally):
        super().__init__(name="crasher", daemon=True)
        self.cluster = cluster
        self.sh = shared
        self.cfg = cfg
        self.logdir = logdir
        self.tally = tally
        self.rng = random.Random(cfg.seed + 1)
        k = cfg.crashes
        span = cfg.duration * 0.85
        # One crash in each of k equal slices of the run, at a random point of it.
        self.times = [start + cfg.duration * 0.05 + span * (i + self.rng.uniform(0.15, 0.85)) / k
                      for i in range(k)]
        self.crashes = []
        self.done = threading.Event()

    def run(self):
        try:
            for i, t in enumerate(self.times):
                while time.time() < t:
                    time.sleep(0.05)
                mode = self.cfg.kill_mode
                if mode == "mixed":
                    mode = self.rng.choice(["postmaster", "all"])
                rec = {"n": i + 1, "mode": mode, "at": round(time.time() - self.sh.started, 1)}
                self.sh.server_down.set()
                pm, kids = self.cluster.kill(mode)
                rec["children"] = kids
                rec["restart_s"] = round(self.cluster.restart(), 2)
                self.sh.server_down.clear()
                self.sh.count("crashes")
                rows = verify_rows()
                rec["verify_rows"] = len(rows)
                self.tally.add(not rows, f"ledger_verify after restart {i + 1}")
                rep = run_audit(self.logdir, False, f"restart-{i + 1:02d}")
                rec["audit_failed"] = rep["failed"]
                rec["audit_seconds"] = rep["seconds"]
                rec["events"] = rep["stats"].get("events")
                for c in rep["checks"]:
                    self.tally.add(c["problems"] == 0, f"restart {i + 1}: {c['check']}")
                self.crashes.append(rec)
                log(f"crash {i + 1}/{len(self.times)}: SIGKILL postmaster {pm} "
                    f"({'with' if mode == 'all' else 'not'} its {kids} children), restarted in "
                    f"{rec['restart_s']} s; ledger_verify rows: {len(rows)}; audit "
                    f"{rep['passed']} ok / {rep['failed']} failed over {rec['events']} events "
                    f"in {rep['seconds']} s")
                if rep["failed"]:
                    print_report(rep, prefix="    ")
        except Exception as exc:  # noqa: BLE001 - reported as a failed test
            log(f"crash controller failed: {exc!r}")
            self.tally.add(False, f"crash controller: {exc!r}")
            self.sh.server_down.clear()
        finally:
            self.done.set()


def run_workload(cfg, logdir, tally, cluster, label="", extra_threads=()):
    """One workload run: returns (shared, final report, crash records)."""
    os.makedirs(logdir, exist_ok=True)
    shared = reset_extension(cfg, logdir)
    if cfg.sabotage == "nolock":
        sabotage.setup_nolock()
    if cfg.sabotage in ("expired-capture", "stuck-hold"):
        sabotage.unschedule_expiry()
    if cfg.sabotage == "stuck-hold":
        sabotage.setup_stuck_hold()
        shared.reserve_sql = sabotage.stale_reserve_sql
    shared.started = time.time()
    shared.deadline = shared.started + cfg.duration
    clients = [Client(i, shared, logdir, seed=cfg.seed * 1000 + i) for i in range(cfg.clients)]
    threads = list(clients)
    if cfg.sweeper:
        threads.append(Sweeper(shared, logdir))
    extras = [make(shared, logdir) for make in extra_threads]
    threads += extras
    crasher = None
    if cfg.crashes:
        crasher = CrashController(cluster, shared, cfg, logdir, shared.started, tally)
    for t in threads:
        t.start()
    if crasher:
        crasher.start()
    last = 0
    hard_stop = shared.deadline + max(60, cfg.duration)
    while True:
        now = time.time()
        if shared.stop.is_set():
            break
        if now >= shared.deadline and (crasher is None or crasher.done.is_set()):
            break
        if now >= hard_stop:
            tally.add(False, f"{label}run did not finish its crashes in time")
            break
        if now - last >= cfg.progress:
            last = now
            s = dict(shared.stats)
            log(f"{label}t={now - shared.started:5.0f}s attempts={s.get('attempts', 0)} "
                f"acks={s.get('acks', 0)} replayed={s.get('acks_replayed', 0)} "
                f"unknown={s.get('unknown_outcomes', 0)} crashes={s.get('crashes', 0)} "
                f"LB001={s.get('fail_LB001', 0)} 40001={s.get('retry_40001', 0)}")
        time.sleep(0.2)
    shared.stop.set()
    shared.deadline = min(shared.deadline, time.time())
    for t in threads:
        t.join(timeout=60)
        if t.is_alive():
            tally.add(False, f"{label}{t.name} did not stop")
        if getattr(t, "error", None):
            tally.add(False, f"{label}{t.name} died: {t.error}")
    if crasher:
        crasher.join(timeout=120)
    rep = run_audit(logdir, True, "final")
    return shared, rep, (crasher.crashes if crasher else []), extras


def summarize(cfg, shared, rep, crashes, cluster, elapsed):
    s = shared.stats
    st = rep["stats"]
    fails = {k[5:]: v for k, v in sorted(s.items()) if k.startswith("fail_")}
    return {
        "command": cfg.command,
        "duration_s": cfg.duration, "clients": cfg.clients, "hot": cfg.hot, "cold": cfg.cold,
        "elapsed_s": round(elapsed, 1), "fsync": cluster.fsync, "kill_mode": cfg.kill_mode,
        "extension": cfg.ext_label or "installed", "seed": cfg.seed,
        "attempts": s.get("attempts", 0), "acks": s.get("acks", 0),
        "acked_calls": st.get("acked_calls"), "replayed_acks": st.get("replayed_acks"),
        "lost_reply_retries": s.get("lost_reply_retries", 0),
        "unknown_outcomes": s.get("unknown_outcomes", 0),
        "acks_after_lost_connection": st.get("acks_after_lost_connection"),
        "replayed_after_lost_connection": st.get("replayed_after_lost_connection"),
        "unresolved_unknown": st.get("unresolved_unknown"),
        "retries_40001": s.get("retry_40001", 0), "retries_40P01": s.get("retry_40P01", 0),
        "business_errors": fails, "probes": s.get("probes", 0), "reads": s.get("reads", 0),
        "sweeps": s.get("sweeps", 0), "crashes": len(crashes),
        "events": st.get("events"), "reservations": st.get("reservations"),
        "holds": {k: st.get(k) for k in ("settled", "cancelled", "expired", "active")},
        "expire_events": st.get("expire_events"), "errors_checked": st.get("errors_checked"),
        "audit_failed": rep["failed"], "audit_passed": rep["passed"],
        "crash_log": crashes,
    }


def print_summary(sm):
    log("figures of this run:")
    for k in ("command", "extension", "seed", "duration_s", "elapsed_s", "clients", "hot", "cold", "fsync",
              "kill_mode", "attempts", "acks", "acked_calls", "replayed_acks",
              "lost_reply_retries", "unknown_outcomes", "acks_after_lost_connection",
              "replayed_after_lost_connection",
              "unresolved_unknown", "retries_40001", "retries_40P01", "business_errors",
              "probes", "reads", "sweeps", "crashes", "events", "reservations", "holds",
              "expire_events", "errors_checked", "audit_passed", "audit_failed"):
        print(f"    {k}: {sm[k]}")


def use_ext_root(cfg):
    """Points the cluster at a private build of the extension."""
    if not cfg.ext_root:
        return
    with connect("reliability-setup") as conn:
        conn.execute(f"ALTER SYSTEM SET extension_destdir = '{cfg.ext_root}'")
        conn.execute("SELECT pg_reload_conf()")
    for _ in range(100):
        with connect("reliability-setup") as conn:
            if conn.execute("SHOW extension_destdir").fetchone()[0] == cfg.ext_root:
                log(f"extension loaded from {cfg.ext_root} ({cfg.ext_label or 'private build'})")
                return
        time.sleep(0.1)
    raise RuntimeError("extension_destdir did not take effect")


def main_workload(cfg, tally):
    cluster = Cluster()
    use_ext_root(cfg)
    if cfg.fsync is not None:
        cluster.set_fsync(cfg.fsync == "on")
    log(f"cluster {cluster.version}/{cluster.name} port {cluster.port}, data {cluster.datadir}, "
        f"fsync={cluster.fsync}")
    log(f"workload: {cfg.duration} s, {cfg.clients} clients, {cfg.hot} hot + {cfg.cold} cold "
        f"wallets, {cfg.crashes} crashes ({cfg.kill_mode}), at most {cfg.max_calls} calls, "
        f"logs in {cfg.logdir}")
    t0 = time.time()
    shared, rep, crashes, _ = run_workload(cfg, cfg.logdir, tally, cluster)
    for c in rep["checks"]:
        tally.add(c["problems"] == 0, f"final: {c['check']}")
    print_report(rep, prefix="  ")
    bad = cluster.server_log_problems()
    if bad is not None:
        tally.add(not bad, "server log: no backend terminated by a signal, no PANIC")
        log(f"server log: {len(bad)} crash line(s)" + "".join(f"\n    {b}" for b in bad[:5]))
    tally.add(len(crashes) == cfg.crashes, f"{cfg.crashes} crashes survived")
    sm = summarize(cfg, shared, rep, crashes, cluster, time.time() - t0)
    with open(os.path.join(cfg.logdir, "summary.json"), "w", encoding="utf-8") as f:
        json.dump(sm, f, indent=1)
    print_summary(sm)


SCENARIOS = [
    # name, sabotage, checks the auditor must report, run seconds
    ("control", None, [], 8),
    ("nolock", "nolock", ["no_overdraft", "keys_unique"], 8),
    ("expired-capture", "expired-capture", ["no_expired_capture"], 8),
    ("stuck-hold", "stuck-hold", ["errors_justified"], 8),
    ("lost-ack", "lost-ack", ["acked_present"], 5),
]


def main_self_test(cfg, tally):
    cluster = Cluster()
    use_ext_root(cfg)
    base = cfg.logdir
    for name, mode, expect, secs in SCENARIOS:
        sc = argparse.Namespace(**vars(cfg))
        sc.duration, sc.crashes, sc.sabotage = secs, 0, mode
        sc.clients = min(cfg.clients, 6)
        sc.sweeper = mode not in ("expired-capture", "stuck-hold")
        sc.extra_wallets = {"expired-capture": ["tamper-0"],
                            "stuck-hold": ["stuck-0"]}.get(mode, [])
        extra = []
        if mode == "nolock":
            extra.append(lambda sh, d: sabotage.RacyPairs(sh, d, "hot-0"))
        if mode == "expired-capture":
            extra.append(lambda sh, d: sabotage.ExpiredCapture(sh, d, "tamper-0"))
        if mode == "stuck-hold":
            extra.append(lambda sh, d: sabotage.StuckHold(sh, d, "stuck-0"))
        logdir = os.path.join(base, name)
        log(f"self-test {name}: {secs} s, {sc.clients} clients, sabotage: {mode or 'none'}")
        shared, rep, _, extras = run_workload(sc, logdir, Tally(), cluster, label=f"[{name}] ",
                                              extra_threads=extra)
        if mode == "lost-ack":
            what = sabotage.lose_last_ack(read_logs(logdir))
            log(f"self-test {name}: removed {what}")
            rep = run_audit(logdir, True, "final-after-loss")
        got = {c["check"]: c["problems"] for c in rep["checks"]}
        if not expect:
            ok = rep["failed"] == 0
            tally.add(ok, f"self-test {name}: every check passes")
            log(f"self-test {name}: {'PASS' if ok else 'FAIL'}: "
                f"{rep['passed']} checks passed, {rep['failed']} failed")
            if not ok:
                print_report(rep, prefix="    ")
        else:
            for check in expect:
                ok = got.get(check, 0) > 0
                tally.add(ok, f"self-test {name}: auditor reports {check}")
                log(f"self-test {name}: {'PASS' if ok else 'FAIL'}: {check} reported "
                    f"{got.get(check, 0)} problem(s)")
            flagged = [f"{c['check']}({c['problems']})" for c in rep["checks"] if c["problems"]]
            log(f"self-test {name}: all checks that failed: {', '.join(flagged) or 'none'}")
            for c in rep["checks"]:
                if c["check"] in expect and c["examples"]:
                    print(f"    e.g. {c['examples'][0]}")
        for e in extras:
            for attr in ("rounds", "captured", "refused"):
                if hasattr(e, attr):
                    log(f"self-test {name}: sabotage {attr} = {getattr(e, attr)}")


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=float, default=60, help="seconds of workload")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--crashes", type=int, default=0, help="postmaster SIGKILLs during the run")
    ap.add_argument("--kill-mode", choices=["postmaster", "all", "mixed"], default="mixed",
                    help="kill the postmaster alone, with all its children, or either at random")
    ap.add_argument("--max-calls", type=int, default=2_000_000, help="call budget")
    ap.add_argument("--hot", type=int, default=3, help="hot wallets")
    ap.add_argument("--cold", type=int, default=200, help="cold wallets")
    ap.add_argument("--hot-start", type=int, default=20_000)
    ap.add_argument("--cold-start", type=int, default=2_000)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--fsync", choices=["on", "off"], default=None,
                    help="set fsync before the run (the throwaway cluster starts with off)")
    ap.add_argument("--logdir", default=None)
    ap.add_argument("--progress", type=float, default=10)
    ap.add_argument("--self-test", action="store_true")
    ap.add_argument("--ext-root", default=None,
                    help="load the extension from this DESTDIR (extension_destdir)")
    ap.add_argument("--ext-label", default=None, help="what --ext-root was built from")
    cfg = ap.parse_args(argv)
    if cfg.seed is None:
        cfg.seed = random.randrange(1, 1_000_000)
    if cfg.logdir is None:
        cfg.logdir = os.path.join(os.getcwd(), "build", "reliability",
                                  time.strftime("%Y%m%d-%H%M%S"))
    cfg.sabotage = None
    cfg.sweeper = True
    cfg.extra_wallets = []
    cfg.command = os.environ.get("RELIABILITY_COMMAND") or " ".join(["workload.py"] + argv)
    return cfg


def main(argv):
    cfg = parse_args(argv)
    os.makedirs(cfg.logdir, exist_ok=True)
    log(f"seed {cfg.seed}")
    tally = Tally()
    try:
        if cfg.self_test:
            main_self_test(cfg, tally)
        else:
            main_workload(cfg, tally)
    except Exception as exc:  # noqa: BLE001 - a crashed harness is a failed test
        import traceback
        traceback.print_exc()
        tally.add(False, f"harness: {exc!r}")
    if tally.failures:
        log("failed: " + "; ".join(tally.failures[:20]))
    print(f"{tally.passed} passed, {tally.failed} failed", flush=True)
    return 0 if tally.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
