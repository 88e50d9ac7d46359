"""A small Python client for baseledger, on psycopg 3.

    from datetime import timedelta
    import baseledger_client as bl

    ledger = bl.Ledger("dbname=app")          # any libpq conninfo; PG* variables work too
    with ledger.hold("acme/agent-7", 500, ttl=timedelta(minutes=2), key="call-42") as hold:
        for chunk in hold.stream(llm.stream(prompt)):    # extends the hold while it runs
            ...
        hold.report(response.usage.cost)      # settled with this on success
    # an exception in the block cancels the hold (or settles what was reported)

Every write carries an idempotency key. A call that fails with a connection
error (the request or its reply lost) is sent again with the same key: when
the first attempt had committed, the ledger replays its result
(``replayed=True``) and nothing is charged twice. SQLSTATEs of the ledger map
to the exception classes below.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable, Iterator, Optional, Union

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

__all__ = [
    "Ledger", "Hold", "Result", "Balance", "Reservation",
    "LedgerError", "InsufficientFunds", "WalletNotFound", "ReservationNotFound",
    "ReservationClosed", "ReservationExpired", "CaptureExceedsHold", "IdempotencyConflict",
    "LimitReached", "InvalidArgument", "AmountOverflow", "UnitMismatch", "PermissionDenied",
    "SerializationFailure", "LedgerUnavailable",
]

log = logging.getLogger("baseledger")

Seconds = Union[int, float, timedelta]

# ---------------------------------------------------------------- errors


class LedgerError(Exception):
    """An error reported by the ledger; ``sqlstate`` says which."""

    sqlstate: Optional[str] = None

    def __init__(self, message: str, sqlstate: Optional[str] = None,
                 detail: Optional[str] = None, hint: Optional[str] = None):
        super().__init__(message)
        if sqlstate is not None:
            self.sqlstate = sqlstate
        self.detail = detail
        self.hint = hint


class InsufficientFunds(LedgerError):
    """LB001: the debit or reserve exceeds what is available in the wallet or
    one of its ancestors: the call is refused. ``detail`` names the wallet
    that refused, e.g. ``Wallet "acme" has 40 available; 50 was requested.``"""
    sqlstate = "LB001"


class WalletNotFound(LedgerError):
    """LB002"""
    sqlstate = "LB002"


class ReservationNotFound(LedgerError):
    """LB003"""
    sqlstate = "LB003"


class ReservationClosed(LedgerError):
    """LB004: the hold was already settled or cancelled."""
    sqlstate = "LB004"


class ReservationExpired(LedgerError):
    """LB005: the hold lapsed before it was settled, cancelled or extended."""
    sqlstate = "LB005"


class CaptureExceedsHold(LedgerError):
    """LB006: a settle captured more than was held (or, with allow_overage,
    the excess did not fit what is available)."""
    sqlstate = "LB006"


class IdempotencyConflict(LedgerError):
    """LB007: the key was used before with different arguments."""
    sqlstate = "LB007"


class LimitReached(LedgerError):
    """LB008: a limit of the wallet or of one of its ancestors refused the
    call: a period's amount or request limit, or the cap on active
    reservations. The message says which kind (``period amount limit
    reached``, ``period request limit reached``, ``concurrency limit
    reached``); ``detail`` names the wallet, the limit and the amounts, e.g.
    ``Wallet "acme/research" has used 90 of its day limit of 100; 20 was
    requested.``"""
    sqlstate = "LB008"


class InvalidArgument(LedgerError):
    """22023 (an invalid value) or 22004 (a NULL where a value is required)."""
    sqlstate = "22023"


class AmountOverflow(LedgerError):
    """22003: the result would overflow a bigint."""
    sqlstate = "22003"


class UnitMismatch(LedgerError):
    """42710: the wallet exists with another unit."""
    sqlstate = "42710"


class PermissionDenied(LedgerError):
    """42501: the role may not do this (or the wallet is not granted to it)."""
    sqlstate = "42501"


class SerializationFailure(LedgerError):
    """40001 or 40P01, still failing after the retries."""
    sqlstate = "40001"


class LedgerUnavailable(LedgerError):
    """The server could not be reached, still after the retries."""


_BY_SQLSTATE = {
    "LB001": InsufficientFunds,
    "LB002": WalletNotFound,
    "LB003": ReservationNotFound,
    "LB004": ReservationClosed,
    "LB005": ReservationExpired,
    "LB006": CaptureExceedsHold,
    "LB007": IdempotencyConflict,
    "LB008": LimitReached,
    "22023": InvalidArgument,
    "22004": InvalidArgument,
    "22003": AmountOverflow,
    "42710": UnitMismatch,
    "42501": PermissionDenied,
    "40001": SerializationFailure,
    "40P01": SerializationFailure,
}


def error_from(exc: psycopg.Error) -> LedgerError:
    """The typed error for a server error (LedgerError for an unknown SQLSTATE)."""
    diag = exc.diag
    state = exc.sqlstate
    cls = _BY_SQLSTATE.get(state or "", LedgerError)
    message = diag.message_primary or str(exc)
    return cls(message, sqlstate=state, detail=diag.message_detail, hint=diag.message_hint)


# Errors after which the same call is sent again on a new connection: the
# connection broke (the request or its reply may be lost), or the server
# asked for a retry. Writes are safe to resend because the key is the same.
_RETRY_SQLSTATES = {"40001", "40P01", "57P01", "57P02", "57P03"}


def _is_transient(exc: psycopg.Error, conn: Optional[psycopg.Connection]) -> bool:
    state = exc.sqlstate
    if state in _RETRY_SQLSTATES or (state or "").startswith("08"):
        return True
    if isinstance(exc, psycopg.OperationalError) and state is None:
        return True  # raised by the client: connection refused, closed, reset
    return conn is not None and (conn.closed or conn.broken)


# ---------------------------------------------------------------- results


def _from_row(cls, row: dict):
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in row.items() if k in names})


@dataclass(frozen=True)
class Result:
    """What a write returns: the event it appended (or replayed) and the
    wallet's funds right after it."""
    wallet_id: str
    seq: int
    kind: str
    reservation_id: Optional[uuid.UUID]
    amount: int
    balance: int
    reserved: int
    available: int
    expires_at: Optional[datetime]
    at: datetime
    replayed: bool


@dataclass(frozen=True)
class Balance:
    wallet_id: str
    unit: str
    balance: int
    reserved: int
    available: int
    active_reservations: int
    last_seq: int
    as_of: datetime


@dataclass(frozen=True)
class Reservation:
    reservation_id: uuid.UUID
    wallet_id: str
    state: str
    amount: int
    captured: int
    expires_at: datetime
    created_at: datetime
    updated_at: datetime
    on_expire: Optional[str] = None  # "refund" or "capture" (baseledger 0.3.0)


def _interval(ttl: Seconds) -> timedelta:
    return ttl if isinstance(ttl, timedelta) else timedelta(seconds=ttl)


def _json(metadata: Optional[dict]):
    return None if metadata is None else Jsonb(metadata)


# ---------------------------------------------------------------- the ledger


class Ledger:
    """Calls the ledger's SQL API. Thread-safe: each thread gets its own
    connection (autocommit), opened on first use and reopened after a
    connection error.

    ``conninfo`` and ``connect_kwargs`` go to ``psycopg.connect``.
    ``retries`` is how many times a call is sent again after a connection
    error or a serialization failure, waiting ``backoff`` seconds, doubled
    each time. ``schema`` is where the extension lives.
    """

    def __init__(self, conninfo: str = "", *, retries: int = 3, backoff: float = 0.05,
                 schema: str = "ledger", connect: Callable[..., psycopg.Connection] = psycopg.connect,
                 **connect_kwargs: Any):
        self.conninfo = conninfo
        self.retries = retries
        self.backoff = backoff
        self.schema = schema
        self._connect = connect
        self._connect_kwargs = connect_kwargs
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[psycopg.Connection] = []

    # -- connections

    def _connection(self) -> psycopg.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed or conn.broken:
            conn = self._connect(self.conninfo, autocommit=True, **self._connect_kwargs)
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def _discard(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            with self._lock:
                if conn in self._all:
                    self._all.remove(conn)
            try:
                conn.close()
            except psycopg.Error:
                pass

    def close(self) -> None:
        """Closes every connection this ledger opened."""
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            try:
                conn.close()
            except psycopg.Error:
                pass

    def __enter__(self) -> "Ledger":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- one call, retried on transient errors

    def _call(self, function: str, *args: Any) -> dict:
        sql = "SELECT * FROM %s.%s(%s)" % (self.schema, function, ", ".join(["%s"] * len(args)))
        attempt = 0
        while True:
            conn = None
            try:
                conn = self._connection()
                with conn.cursor(row_factory=dict_row) as cur:
                    cur.execute(sql, args)
                    return cur.fetchone()
            except psycopg.Error as exc:
                if not _is_transient(exc, conn):
                    raise error_from(exc) from exc
                if conn is not None and (conn.closed or conn.broken):
                    self._discard()
                if attempt >= self.retries:
                    if exc.sqlstate in ("40001", "40P01"):
                        raise error_from(exc) from exc
                    raise LedgerUnavailable(
                        "%s failed after %d attempts: %s" % (function, attempt + 1, exc)) from exc
                log.info("%s: %s; sending it again (attempt %d)", function, exc, attempt + 2)
                time.sleep(self.backoff * (2 ** attempt))
                attempt += 1

    # -- the API

    def create_wallet(self, wallet_id: str, unit: str = "credits",
                      metadata: Optional[dict] = None, capped: bool = True) -> Balance:
        """Creates a wallet; a child (``acme/research``) needs its parent.
        ``capped=False`` makes a wallet with no budget of its own that only
        tracks its spending (its ancestors bound it)."""
        args = [wallet_id, unit, _json(metadata)]
        if not capped:  # sent only when set, so a 0.2.0 server still takes the call
            args.append(False)
        return _from_row(Balance, self._call("ledger_create_wallet", *args))

    def credit(self, wallet_id: str, amount: int, key: str,
               metadata: Optional[dict] = None) -> Result:
        return _from_row(Result, self._call("ledger_credit", wallet_id, amount, key, _json(metadata)))

    def debit(self, wallet_id: str, amount: int, key: str,
              metadata: Optional[dict] = None) -> Result:
        return _from_row(Result, self._call("ledger_debit", wallet_id, amount, key, _json(metadata)))

    def reserve(self, wallet_id: str, amount: int, ttl: Seconds, key: str,
                metadata: Optional[dict] = None, on_expire: str = "refund") -> Result:
        """Holds ``amount`` for ``ttl``. ``on_expire="capture"`` charges the
        whole hold if it lapses unsettled (a call known to be billed even when
        the job never reports back); the default refunds it."""
        args = [wallet_id, amount, _interval(ttl), key, _json(metadata)]
        if on_expire != "refund":  # sent only when set: a 0.2.0 server still takes the call
            args.append(on_expire)
        return _from_row(Result, self._call("ledger_reserve", *args))

    def settle(self, wallet_id: str, reservation_id: uuid.UUID, amount: int, key: str,
               metadata: Optional[dict] = None, allow_overage: bool = False) -> Result:
        """Captures ``amount`` and releases the rest of the hold. Above the
        held amount it fails with CaptureExceedsHold, unless
        ``allow_overage`` is set: then the excess is taken from what is
        available (at every level of the wallet's tree) when it fits."""
        args = [wallet_id, reservation_id, amount, key, _json(metadata)]
        if allow_overage:  # sent only when set: a 0.2.0 server still takes the call
            args.append(True)
        return _from_row(Result, self._call("ledger_settle", *args))

    def cancel(self, wallet_id: str, reservation_id: uuid.UUID, key: str,
               metadata: Optional[dict] = None) -> Result:
        return _from_row(Result, self._call("ledger_cancel", wallet_id, reservation_id, key,
                                            _json(metadata)))

    def extend(self, wallet_id: str, reservation_id: uuid.UUID, ttl: Seconds, key: str) -> Result:
        return _from_row(Result, self._call("ledger_extend", wallet_id, reservation_id,
                                            _interval(ttl), key))

    def balance(self, wallet_id: str) -> Balance:
        return _from_row(Balance, self._call("ledger_balance", wallet_id))

    def reservation(self, wallet_id: str, reservation_id: uuid.UUID) -> Reservation:
        return _from_row(Reservation, self._call("ledger_reservation", wallet_id, reservation_id))

    def hold(self, wallet_id: str, amount: int, ttl: Seconds = 120, key: Optional[str] = None,
             metadata: Optional[dict] = None, on_unreported: str = "capture",
             on_expire: str = "refund", allow_overage: bool = False) -> "Hold":
        """A context manager around one paid call: see Hold."""
        return Hold(self, wallet_id, amount, ttl, key, metadata, on_unreported, on_expire,
                    allow_overage)


# ---------------------------------------------------------------- a hold around one call


class Hold:
    """Reserves ``amount`` on entering the ``with`` block (raising
    InsufficientFunds or LimitReached, before the call is made, when the
    budget or a limit cannot take it) and closes the hold on leaving it:

    - the block ends normally: settles with the usage given to ``report``
      (or ``add``); when nothing was reported, ``on_unreported`` decides:
      ``"capture"`` (the default) charges the whole hold, the worst case it
      was sized for, ``"cancel"`` releases it;
    - the block raises: cancels the hold, or, when usage was reported before
      the error (a stream cut halfway is still billed), settles with it; the
      exception goes on.

    Usage above the held amount is captured up to the hold and the excess
    is kept in ``overage``. With ``allow_overage=True`` the whole usage is
    settled (the ledger takes the excess from what is available) and
    ``overage`` is 0; when the excess does not fit, the hold is captured and
    the excess kept in ``overage`` as without it.

    ``on_expire="capture"`` reserves a hold that is charged in full if it
    lapses before it is closed (the process died during a call that is billed
    anyway); the default refunds it.

    Keys: ``key`` (a new uuid when None) with /reserve, /settle, /cancel and
    /extend/N appended, so a retried block or call never charges twice.
    """

    def __init__(self, ledger: Ledger, wallet_id: str, amount: int, ttl: Seconds,
                 key: Optional[str], metadata: Optional[dict], on_unreported: str,
                 on_expire: str = "refund", allow_overage: bool = False):
        if on_unreported not in ("capture", "cancel"):
            raise ValueError("on_unreported must be 'capture' or 'cancel'")
        if on_expire not in ("refund", "capture"):
            raise ValueError("on_expire must be 'refund' or 'capture'")
        self.on_expire = on_expire
        self.allow_overage = allow_overage
        self.ledger = ledger
        self.wallet_id = wallet_id
        self.amount = amount
        self.ttl = _interval(ttl)
        self.key = key or uuid.uuid4().hex
        self.metadata = metadata
        self.on_unreported = on_unreported
        self.reservation_id: Optional[uuid.UUID] = None
        self.expires_at: Optional[datetime] = None
        self.usage: Optional[int] = None
        self.overage = 0
        self.extensions = 0
        self.result: Optional[Result] = None  # the settle or cancel
        self.heartbeat_error: Optional[BaseException] = None
        self._beats = 0
        self._beat_lock = threading.Lock()

    # -- usage

    def report(self, usage: int) -> None:
        """The call's real cost, to settle with."""
        self.usage = int(usage)

    def add(self, usage: int) -> None:
        """Adds to the reported cost (a stream's chunks as they come)."""
        self.usage = (self.usage or 0) + int(usage)

    # -- heartbeat

    def extend(self) -> Result:
        """One heartbeat: the hold now expires ttl from now."""
        with self._beat_lock:
            self._beats += 1
            n = self._beats
        result = self.ledger.extend(self.wallet_id, self.reservation_id, self.ttl,
                                    "%s/extend/%d" % (self.key, n))
        self.expires_at = result.expires_at
        self.extensions += 1
        return result

    def keepalive(self, every: Optional[float] = None) -> "_Heartbeat":
        """A context manager that extends the hold every ``every`` seconds
        (a third of the ttl by default) from a thread of its own, for as
        long as its block runs."""
        interval = every if every is not None else self.ttl.total_seconds() / 3
        return _Heartbeat(self, interval)

    def stream(self, chunks: Iterable, every: Optional[float] = None) -> Iterator:
        """Yields the chunks of a streamed response, extending the hold while
        the stream runs, however long one chunk takes."""
        with self.keepalive(every):
            for chunk in chunks:
                yield chunk

    # -- the with block

    def __enter__(self) -> "Hold":
        result = self.ledger.reserve(self.wallet_id, self.amount, self.ttl,
                                     self.key + "/reserve", self.metadata, self.on_expire)
        self.reservation_id = result.reservation_id
        self.expires_at = result.expires_at
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc is None:
            if self.usage is None and self.on_unreported == "cancel":
                self._cancel()
            else:
                self._settle(self.amount if self.usage is None else self.usage)
            return False
        # The call failed: release the hold, unless part of it was used.
        try:
            if self.usage is not None:
                self._settle(self.usage)
            else:
                self._cancel()
        except LedgerError as close_error:
            # The hold lapses at its expires_at anyway; the call's own error
            # is the one to raise.
            log.warning("could not close hold %s after %r: %s", self.reservation_id, exc,
                        close_error)
            if hasattr(exc, "add_note"):
                exc.add_note("baseledger: the hold was not closed: %s" % close_error)
        return False

    def _settle(self, usage: int) -> None:
        if self.allow_overage and usage > self.amount:
            try:
                self.result = self.ledger.settle(self.wallet_id, self.reservation_id, usage,
                                                 self.key + "/settle", self.metadata,
                                                 allow_overage=True)
                self.overage = 0
                return
            except (CaptureExceedsHold, IdempotencyConflict) as exc:
                # LB006: the excess does not fit the budget; the refused call
                # left no trace, so the key settles the hold instead. LB007:
                # a rerun of a block whose first run already did that; the
                # settle below replays it.
                log.info("hold %s: overage of %d not taken (%s); capturing the hold",
                         self.reservation_id, usage - self.amount, exc)
        capture = max(0, min(usage, self.amount))
        self.overage = max(0, usage - self.amount)
        self.result = self.ledger.settle(self.wallet_id, self.reservation_id, capture,
                                         self.key + "/settle", self.metadata)

    def _cancel(self) -> None:
        self.result = self.ledger.cancel(self.wallet_id, self.reservation_id,
                                         self.key + "/cancel", self.metadata)


class _Heartbeat:
    def __init__(self, hold: Hold, interval: float):
        self.hold = hold
        self.interval = interval
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                try:
                    self.hold.extend()
                except ReservationExpired as exc:
                    # Too late: the hold lapsed. Keep the error for the caller.
                    self.hold.heartbeat_error = exc
                    return
                except LedgerError as exc:
                    self.hold.heartbeat_error = exc
                    log.warning("heartbeat of hold %s failed: %s", self.hold.reservation_id, exc)
        finally:
            # The thread ends: its connection goes with it.
            self.hold.ledger._discard()

    def __enter__(self) -> "_Heartbeat":
        self._thread = threading.Thread(target=self._run, name="baseledger-heartbeat", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> bool:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return False
