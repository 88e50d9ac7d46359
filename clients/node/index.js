'use strict';
// A small Node.js client for baseledger, on the `pg` package.
//
//   const { Ledger, InsufficientFundsError } = require('baseledger-client');
//   const ledger = new Ledger();            // pg.Pool options; PG* variables work too
//   const answer = await ledger.hold('acme/agent-7', 500, { ttl: 120, key: 'call-42' },
//     async (hold) => {
//       for await (const chunk of hold.stream(llm.stream(prompt))) { ... } // extends the hold
//       hold.report(usage.cost);              // settled with this on success
//       return text;
//     });                                     // a throw cancels the hold (or settles what was reported)
//
// Every write carries an idempotency key. A call that fails with a connection
// error (the request or its reply lost) is sent again with the same key: when
// the first attempt had committed, the ledger replays its result
// (replayed: true) and nothing is charged twice. SQLSTATEs of the ledger map
// to the error classes below.

const crypto = require('node:crypto');
const pg = require('pg');

// ---------------------------------------------------------------- errors

class LedgerError extends Error {
  constructor(message, { sqlstate, detail, hint, cause } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = this.constructor.name;
    this.sqlstate = sqlstate === undefined ? this.constructor.sqlstate : sqlstate;
    this.detail = detail;
    this.hint = hint;
  }
}
LedgerError.sqlstate = undefined;

function errorClass(name, sqlstate, doc) {
  const cls = { [name]: class extends LedgerError {} }[name];
  cls.sqlstate = sqlstate;
  cls.description = doc;
  return cls;
}

const InsufficientFundsError = errorClass('InsufficientFundsError', 'LB001',
  'the debit or reserve exceeds what is available in the wallet or an ancestor: the call is '
  + 'refused; the detail names the wallet that refused');
const WalletNotFoundError = errorClass('WalletNotFoundError', 'LB002', 'wallet not found');
const ReservationNotFoundError = errorClass('ReservationNotFoundError', 'LB003',
  'reservation not found');
const ReservationClosedError = errorClass('ReservationClosedError', 'LB004',
  'the hold was already settled or cancelled');
const ReservationExpiredError = errorClass('ReservationExpiredError', 'LB005',
  'the hold lapsed before it was settled, cancelled or extended');
const CaptureExceedsHoldError = errorClass('CaptureExceedsHoldError', 'LB006',
  'a settle captured more than was held (with allowOverage: the excess did not fit what is available)');
const IdempotencyConflictError = errorClass('IdempotencyConflictError', 'LB007',
  'the key was used before with different arguments');
// The message says which limit (period amount limit reached, period request
// limit reached, concurrency limit reached); the detail names the wallet, the
// limit and the amounts: 'Wallet "acme/research" has used 90 of its day limit
// of 100; 20 was requested.'
const LimitReachedError = errorClass('LimitReachedError', 'LB008',
  'a limit of the wallet or an ancestor refused the call: a period amount or request limit, '
  + 'or the cap on active reservations');
const InvalidArgumentError = errorClass('InvalidArgumentError', '22023',
  'an invalid value (22023) or a NULL where a value is required (22004)');
const AmountOverflowError = errorClass('AmountOverflowError', '22003',
  'the result would overflow a bigint');
const UnitMismatchError = errorClass('UnitMismatchError', '42710', 'the wallet exists with another unit');
const PermissionDeniedError = errorClass('PermissionDeniedError', '42501',
  'the role may not do this (or the wallet is not granted to it)');
const SerializationFailureError = errorClass('SerializationFailureError', '40001',
  'a serialization failure or deadlock, still failing after the retries');
const LedgerUnavailableError = errorClass('LedgerUnavailableError', undefined,
  'the server could not be reached, still after the retries');

const BY_SQLSTATE = {
  LB001: InsufficientFundsError,
  LB002: WalletNotFoundError,
  LB003: ReservationNotFoundError,
  LB004: ReservationClosedError,
  LB005: ReservationExpiredError,
  LB006: CaptureExceedsHoldError,
  LB007: IdempotencyConflictError,
  LB008: LimitReachedError,
  22023: InvalidArgumentError,
  22004: InvalidArgumentError,
  22003: AmountOverflowError,
  42710: UnitMismatchError,
  42501: PermissionDeniedError,
  40001: SerializationFailureError,
  '40P01': SerializationFailureError,
};

// The typed error for a server error (LedgerError for an unknown SQLSTATE).
function errorFrom(err) {
  const Cls = BY_SQLSTATE[err.code] || LedgerError;
  return new Cls(err.message, { sqlstate: err.code, detail: err.detail, hint: err.hint, cause: err });
}

// Errors after which the same call is sent again on a new connection: the
// connection broke (the request or its reply may be lost), or the server
// asked for a retry. Writes are safe to resend because the key is the same.
const RETRY_CODES = new Set(['40001', '40P01', '57P01', '57P02', '57P03', 'ECONNRESET',
  'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

function isTransient(err) {
  if (err instanceof LedgerError) return false;
  const code = err && err.code;
  if (code && (RETRY_CODES.has(code) || /^08/.test(code))) return true;
  // Raised by the client itself when the connection ends under a query.
  return !code && /connection terminated|connection error|not queryable|timeout/i.test(String(err && err.message));
}

// ---------------------------------------------------------------- values

// bigint columns come back as numbers when they fit in one exactly, as
// BigInt otherwise; the client's pool only, not pg's global parsers.
const INT8_OID = 20;
const types = {
  getTypeParser(oid, format) {
    if (oid === INT8_OID && format !== 'binary') {
      return (text) => {
        const n = Number(text);
        return Number.isSafeInteger(n) ? n : BigInt(text);
      };
    }
    return pg.types.getTypeParser(oid, format);
  },
};

function amountParam(v) {
  return typeof v === 'bigint' ? v.toString() : v;
}

function ttlParam(ttl) {
  if (typeof ttl === 'number') return `${ttl} seconds`;
  return ttl; // an interval's text: '2 minutes'
}

function ttlSeconds(ttl) {
  if (typeof ttl === 'number') return ttl;
  const m = /^\s*([\d.]+)\s*(ms|milliseconds?|s|secs?|seconds?|min|mins|minutes?|h|hours?)\s*$/i.exec(ttl);
  if (!m) return 120;
  const n = Number(m[1]);
  const unit = m[2].toLowerCase();
  if (unit.startsWith('ms') || unit.startsWith('milli')) return n / 1000;
  if (unit.startsWith('h')) return n * 3600;
  if (unit.startsWith('m')) return n * 60;
  return n;
}

function jsonParam(metadata) {
  return metadata === undefined || metadata === null ? null : JSON.stringify(metadata);
}

function result(row) {
  return {
    walletId: row.wallet_id,
    seq: row.seq,
    kind: row.kind,
    reservationId: row.reservation_id,
    amount: row.amount,
    balance: row.balance,
    reserved: row.reserved,
    available: row.available,
    expiresAt: row.expires_at,
    at: row.at,
    replayed: row.replayed,
  };
}

function balance(row) {
  return {
    walletId: row.wallet_id,
    unit: row.unit,
    balance: row.balance,
    reserved: row.reserved,
    available: row.available,
    activeReservations: row.active_reservations,
    lastSeq: row.last_seq,
    asOf: row.as_of,
  };
}

function reservation(row) {
  return {
    reservationId: row.reservation_id,
    walletId: row.wallet_id,
    state: row.state,
    amount: row.amount,
    captured: row.captured,
    expiresAt: row.expires_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    onExpire: row.on_expire, // 'refund' or 'capture' (baseledger 0.3.0)
  };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------- the ledger

class Ledger {
  // options: pg.Pool options (connectionString, host, port, max, ...), plus
  //   retries  how many times a call is sent again after a connection error
  //            or a serialization failure (default 3)
  //   backoff  milliseconds before the first retry, doubled each time (50)
  //   schema   where the extension lives ('ledger')
  //   pool     a pg.Pool of your own instead
  constructor(options = {}) {
    const { retries = 3, backoff = 50, schema = 'ledger', pool, ...poolOptions } = options;
    this.retries = retries;
    this.backoff = backoff;
    this.schema = schema;
    this.ownPool = !pool;
    this.pool = pool || new pg.Pool({ types, ...poolOptions });
    // An idle connection that the server closes must not crash the process:
    // the pool drops it and the next call opens another.
    this.pool.on('error', () => {});
  }

  async close() {
    if (this.ownPool) await this.pool.end();
  }

  async call(fn, ...args) {
    const placeholders = args.map((_, i) => `$${i + 1}`).join(', ');
    const text = `SELECT * FROM ${this.schema}.${fn}(${placeholders})`;
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await this.pool.query({ text, values: args, types });
        return res.rows[0];
      } catch (err) {
        if (!isTransient(err)) throw errorFrom(err);
        if (attempt >= this.retries) {
          if (err.code === '40001' || err.code === '40P01') throw errorFrom(err);
          throw new LedgerUnavailableError(
            `${fn} failed after ${attempt + 1} attempts: ${err.message}`, { cause: err });
        }
        await sleep(this.backoff * 2 ** attempt);
      }
    }
  }

  // A child ('acme/research') needs its parent. { capped: false } makes a
  // wallet with no budget of its own that tracks its spending (its ancestors
  // bound it). New arguments are sent only when set, so that a server still
  // at baseledger 0.2.0 takes the calls that do not use them.
  async createWallet(walletId, unit = 'credits', metadata = null, { capped = true } = {}) {
    const args = [walletId, unit, jsonParam(metadata)];
    if (!capped) args.push(false);
    return balance(await this.call('ledger_create_wallet', ...args));
  }

  async credit(walletId, amount, key, metadata = null) {
    return result(await this.call('ledger_credit', walletId, amountParam(amount), key, jsonParam(metadata)));
  }

  async debit(walletId, amount, key, metadata = null) {
    return result(await this.call('ledger_debit', walletId, amountParam(amount), key, jsonParam(metadata)));
  }

  // { onExpire: 'capture' } charges the whole hold if it lapses unsettled (a
  // call billed even when the job never reports back); the default refunds.
  async reserve(walletId, amount, ttl, key, metadata = null, { onExpire = 'refund' } = {}) {
    const args = [walletId, amountParam(amount), ttlParam(ttl), key, jsonParam(metadata)];
    if (onExpire !== 'refund') args.push(onExpire);
    return result(await this.call('ledger_reserve', ...args));
  }

  // Above the held amount a settle fails with CaptureExceedsHoldError, unless
  // { allowOverage: true }: the excess is then taken from what is available
  // (at every level of the wallet's tree) when it fits.
  async settle(walletId, reservationId, amount, key, metadata = null, { allowOverage = false } = {}) {
    const args = [walletId, reservationId, amountParam(amount), key, jsonParam(metadata)];
    if (allowOverage) args.push(true);
    return result(await this.call('ledger_settle', ...args));
  }

  async cancel(walletId, reservationId, key, metadata = null) {
    return result(await this.call('ledger_cancel', walletId, reservationId, key, jsonParam(metadata)));
  }

  async extend(walletId, reservationId, ttl, key) {
    return result(await this.call('ledger_extend', walletId, reservationId, ttlParam(ttl), key));
  }

  async balance(walletId) {
    return balance(await this.call('ledger_balance', walletId));
  }

  async reservation(walletId, reservationId) {
    return reservation(await this.call('ledger_reservation', walletId, reservationId));
  }

  // Runs fn(hold) around one paid call; see Hold. Returns what fn returns.
  async hold(walletId, amount, options, fn) {
    if (typeof options === 'function') {
      fn = options;
      options = {};
    }
    const hold = new Hold(this, walletId, amount, options);
    await hold.open();
    let value;
    try {
      value = await fn(hold);
    } catch (err) {
      await hold.fail(err);
      throw err;
    }
    await hold.succeed();
    return value;
  }
}

// ---------------------------------------------------------------- a hold around one call

// Reserves `amount` before the call (throwing InsufficientFundsError or
// LimitReachedError, before the call is made, when the budget or a limit
// cannot take it) and closes the hold after:
// - the call returns: settles with the usage given to report() or add(); when
//   nothing was reported, onUnreported decides: 'capture' (the default)
//   charges the whole hold, the worst case it was sized for, 'cancel'
//   releases it;
// - the call throws: cancels the hold, or, when usage was reported before the
//   error (a stream cut halfway is still billed), settles with it; the error
//   goes on.
// Usage above the held amount is captured up to the hold and the excess kept
// in `overage`. With allowOverage the whole usage is settled (the ledger takes
// the excess from what is available) and `overage` is 0; when the excess does
// not fit, the hold is captured and the excess kept in `overage` as without it.
// onExpire: 'capture' reserves a hold that is charged in full if it lapses
// before it is closed (the process died during a call billed anyway).
// Keys: options.key (a new uuid when absent) with /reserve, /settle, /cancel
// and /extend/N appended.
class Hold {
  constructor(ledger, walletId, amount, {
    ttl = 120, key, metadata = null, onUnreported = 'capture', onExpire = 'refund',
    allowOverage = false,
  } = {}) {
    if (onUnreported !== 'capture' && onUnreported !== 'cancel') {
      throw new TypeError("onUnreported must be 'capture' or 'cancel'");
    }
    if (onExpire !== 'refund' && onExpire !== 'capture') {
      throw new TypeError("onExpire must be 'refund' or 'capture'");
    }
    this.onExpire = onExpire;
    this.allowOverage = allowOverage;
    this.ledger = ledger;
    this.walletId = walletId;
    this.amount = amount;
    this.ttl = ttl;
    this.key = key || crypto.randomUUID();
    this.metadata = metadata;
    this.onUnreported = onUnreported;
    this.reservationId = null;
    this.expiresAt = null;
    this.usage = null;
    this.overage = 0;
    this.extensions = 0;
    this.result = null;
    this.heartbeatError = null;
    this.beats = 0;
  }

  report(usage) {
    this.usage = Number(usage);
  }

  add(usage) {
    this.usage = (this.usage || 0) + Number(usage);
  }

  async open() {
    const r = await this.ledger.reserve(this.walletId, this.amount, this.ttl, `${this.key}/reserve`,
      this.metadata, { onExpire: this.onExpire });
    this.reservationId = r.reservationId;
    this.expiresAt = r.expiresAt;
    return r;
  }

  // One heartbeat: the hold now expires ttl from now.
  async extend() {
    this.beats += 1;
    const r = await this.ledger.extend(this.walletId, this.reservationId, this.ttl,
      `${this.key}/extend/${this.beats}`);
    this.expiresAt = r.expiresAt;
    this.extensions += 1;
    return r;
  }

  // Extends the hold every `every` seconds (a third of the ttl by default)
  // until the returned function is called (it resolves when the last beat
  // has ended).
  keepAlive(every) {
    const ms = 1000 * (every === undefined ? ttlSeconds(this.ttl) / 3 : every);
    let pending = Promise.resolve();
    let stopped = false;
    const timer = setInterval(() => {
      if (stopped) return;
      pending = pending.then(async () => {
        if (stopped) return;
        try {
          await this.extend();
        } catch (err) {
          this.heartbeatError = err;
          if (err instanceof ReservationExpiredError) stopped = true;
        }
      });
    }, ms);
    return async () => {
      stopped = true;
      clearInterval(timer);
      await pending;
    };
  }

  // Yields the chunks of a streamed response, extending the hold while the
  // stream runs, however long one chunk takes.
  async* stream(chunks, { every } = {}) {
    const stop = this.keepAlive(every);
    try {
      for await (const chunk of chunks) yield chunk;
    } finally {
      await stop();
    }
  }

  async succeed() {
    if (this.usage === null && this.onUnreported === 'cancel') return this.cancel();
    return this.settle(this.usage === null ? Number(this.amount) : this.usage);
  }

  async fail(err) {
    try {
      if (this.usage !== null) await this.settle(this.usage);
      else await this.cancel();
    } catch (closeError) {
      // The hold lapses at its expiresAt anyway; the call's own error is the
      // one to throw.
      if (err && typeof err === 'object') err.holdCloseError = closeError;
    }
  }

  async settle(usage) {
    const held = Number(this.amount);
    if (this.allowOverage && usage > held) {
      try {
        this.result = await this.ledger.settle(this.walletId, this.reservationId, usage,
          `${this.key}/settle`, this.metadata, { allowOverage: true });
        this.overage = 0;
        return this.result;
      } catch (err) {
        // LB006: the excess does not fit the budget; the refused call left no
        // trace, so the key settles the hold instead. LB007: a rerun of a hold
        // whose first run already did that; the settle below replays it.
        if (!(err instanceof CaptureExceedsHoldError) && !(err instanceof IdempotencyConflictError)) {
          throw err;
        }
      }
    }
    const capture = Math.max(0, Math.min(usage, held));
    this.overage = Math.max(0, usage - held);
    this.result = await this.ledger.settle(this.walletId, this.reservationId, capture,
      `${this.key}/settle`, this.metadata);
    return this.result;
  }

  async cancel() {
    this.result = await this.ledger.cancel(this.walletId, this.reservationId, `${this.key}/cancel`,
      this.metadata);
    return this.result;
  }
}

module.exports = {
  Ledger,
  Hold,
  errorFrom,
  LedgerError,
  InsufficientFundsError,
  WalletNotFoundError,
  ReservationNotFoundError,
  ReservationClosedError,
  ReservationExpiredError,
  CaptureExceedsHoldError,
  IdempotencyConflictError,
  LimitReachedError,
  InvalidArgumentError,
  AmountOverflowError,
  UnitMismatchError,
  PermissionDeniedError,
  SerializationFailureError,
  LedgerUnavailableError,
};
