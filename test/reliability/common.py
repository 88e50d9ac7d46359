"""Shared helpers of the reliability workload and its auditor.

Only connection set-up, clocks, the SQL text of each ledger call and the log
format live here. The auditor's own recomputation of the ledger is in
auditor.py and shares nothing with the extension's replay code.
"""

import json
import os
import threading
import time

import psycopg

# Every ledger_result is read back with its times as integer microseconds since
# the epoch, so the client logs and the auditor compare exact values.
RESULT_COLUMNS = (
    "seq, kind, reservation_id::text, amount, balance, reserved, available, "
    "(extract(epoch FROM expires_at) * 1000000)::bigint, "
    "(extract(epoch FROM at) * 1000000)::bigint, replayed"
)
RESULT_FIELDS = ("seq", "kind", "rid", "amount", "balance", "reserved", "available", "exp", "at",
                 "replayed")

# SQLSTATEs after which a call is simply retried with the same key.
TRANSIENT = {"40001", "40P01", "57014"}
# SQLSTATEs a ledger call may legitimately fail with, by kind (probes aside).
BUSINESS = {
    "credit": set(),
    "debit": {"LB001"},
    "reserve": {"LB001"},
    "settle": {"LB004", "LB005", "LB006"},
    "cancel": {"LB004", "LB005"},
    "extend": {"LB004", "LB005"},
}


def now_us():
    """Wall clock in microseconds; the server's clock is the same machine's."""
    return time.time_ns() // 1000


def connect(application_name, autocommit=True, timeout=3):
    """A connection from the PG* environment with short time-outs."""
    return psycopg.connect(
        autocommit=autocommit,
        connect_timeout=timeout,
        application_name=application_name,
        options="-c statement_timeout=30000 -c search_path=ledger,public",
    )


def call_sql(kind, wallet, key, args):
    """SQL text and parameters of one ledger write."""
    meta = args.get("meta")
    meta_json = json.dumps(meta) if meta is not None else None
    if kind in ("credit", "debit"):
        return (f"SELECT {RESULT_COLUMNS} FROM ledger.ledger_{kind}"
                "(%s::text, %s::bigint, %s::text, %s::jsonb)",
                (wallet, args["amount"], key, meta_json))
    if kind == "reserve":
        return (f"SELECT {RESULT_COLUMNS} FROM ledger.ledger_reserve"
                "(%s::text, %s::bigint, %s::bigint * interval '1 millisecond', %s::text, %s::jsonb)",
                (wallet, args["amount"], args["ttl_ms"], key, meta_json))
    if kind == "settle":
        return (f"SELECT {RESULT_COLUMNS} FROM ledger.ledger_settle"
                "(%s::text, %s::uuid, %s::bigint, %s::text, %s::jsonb)",
                (wallet, args["rid"], args["amount"], key, meta_json))
    if kind == "cancel":
        return (f"SELECT {RESULT_COLUMNS} FROM ledger.ledger_cancel"
                "(%s::text, %s::uuid, %s::text, %s::jsonb)",
                (wallet, args["rid"], key, meta_json))
    if kind == "extend":
        return (f"SELECT {RESULT_COLUMNS} FROM ledger.ledger_extend"
                "(%s::text, %s::uuid, %s::bigint * interval '1 millisecond', %s::text)",
                (wallet, args["rid"], args["ttl_ms"], key))
    raise ValueError(kind)


def result_dict(row):
    return dict(zip(RESULT_FIELDS, row))


def sqlstate_of(exc):
    """The SQLSTATE of a server error, or None for a lost connection."""
    return getattr(exc, "sqlstate", None)


class JsonLog:
    """One JSON object per line, flushed at once so readers see whole lines."""

    def __init__(self, path):
        self._f = open(path, "a", encoding="utf-8")
        self._lock = threading.Lock()

    def write(self, **record):
        line = json.dumps(record, separators=(",", ":"), sort_keys=True)
        with self._lock:
            self._f.write(line + "\n")
            self._f.flush()

    def close(self):
        with self._lock:
            self._f.close()


def read_logs(logdir):
    """Every complete record of every *.jsonl file under logdir, per file in order."""
    records = []
    for name in sorted(os.listdir(logdir)):
        if not name.endswith(".jsonl"):
            continue
        with open(os.path.join(logdir, name), encoding="utf-8") as f:
            for line in f:
                if not line.endswith("\n"):
                    break  # a line still being written
                try:
                    records.append(json.loads(line))
                except ValueError:
                    break
    return records
