'use strict';
// Tests of baseledger-client against a real server. Run inside a throwaway
// cluster (the PG* variables point at it):
//
//   bash scripts/with-cluster.sh bash -c 'cd clients/node && npm test'
//
// The file creates the extension afresh in the database it is given and uses
// wallet ids of its own.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const net = require('node:net');
const pg = require('pg');

const bl = require('..');
const { runFleet } = require('../examples/fleet');
const { FlakyProxy } = require('./proxy');

let admin;
let ledger;

before(async () => {
  admin = new pg.Client();
  await admin.connect();
  await admin.query('SET client_min_messages = warning');
  await admin.query('DROP EXTENSION IF EXISTS baseledger CASCADE');
  await admin.query('CREATE EXTENSION baseledger');
  ledger = new bl.Ledger({ max: 10 });
});

after(async () => {
  await ledger.close();
  await admin.end();
});

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// A new wallet with 1000 credits.
async function newWallet() {
  const walletId = `js-${crypto.randomUUID().slice(0, 12)}`;
  await ledger.createWallet(walletId);
  await ledger.credit(walletId, 1000, 'fund');
  return walletId;
}

async function events(walletId) {
  const res = await admin.query(
    'SELECT kind::text, amount::int FROM ledger.events WHERE wallet_id = $1 ORDER BY seq', [walletId]);
  return res.rows.map((r) => [r.kind, r.amount]);
}

async function verify() {
  return (await admin.query('SELECT * FROM ledger.ledger_verify()')).rows;
}

// ---------------------------------------------------------------- typed errors

test('SQLSTATEs map to typed errors', async () => {
  const w = await newWallet();
  await assert.rejects(ledger.balance(`js-nobody-${crypto.randomUUID().slice(0, 8)}`),
    (e) => e instanceof bl.WalletNotFoundError && e.sqlstate === 'LB002');
  await assert.rejects(ledger.debit(w, 5000, 'too-much'),
    (e) => e instanceof bl.InsufficientFundsError && e.sqlstate === 'LB001' && e instanceof bl.LedgerError);
  await assert.rejects(ledger.debit(w, 0, 'zero'),
    (e) => e instanceof bl.InvalidArgumentError && e.sqlstate === '22023');
  await assert.rejects(ledger.settle(w, crypto.randomUUID(), 1, 'ghost'), bl.ReservationNotFoundError);
  await assert.rejects(ledger.createWallet(w, 'usd_micros'), bl.UnitMismatchError);

  const r = await ledger.reserve(w, 100, 60, 'r1');
  await assert.rejects(ledger.settle(w, r.reservationId, 101, 's1'), bl.CaptureExceedsHoldError);
  await ledger.settle(w, r.reservationId, 40, 's1');
  await assert.rejects(ledger.cancel(w, r.reservationId, 'c1'), bl.ReservationClosedError);
  await assert.rejects(ledger.debit(w, 7, 's1'), bl.IdempotencyConflictError);
  await assert.rejects(ledger.debit(w, 10 ** 6, 'way-too-much'), /insufficient funds/);
});

test('an expired hold is a typed error', async () => {
  const w = await newWallet();
  const r = await ledger.reserve(w, 100, 1, 'short');
  assert.equal((await ledger.balance(w)).available, 900);
  await sleep(1200);
  assert.equal((await ledger.balance(w)).available, 1000);
  await assert.rejects(ledger.settle(w, r.reservationId, 50, 'late-settle'),
    (e) => e instanceof bl.ReservationExpiredError && e.sqlstate === 'LB005');
});

test('amounts are numbers, and BigInt beyond 2^53', async () => {
  const w = `js-${crypto.randomUUID().slice(0, 12)}`;
  await ledger.createWallet(w);
  const big = 2n ** 60n;
  const r = await ledger.credit(w, big, 'big');
  assert.equal(r.balance, big);
  assert.equal(typeof (await ledger.debit(w, big - 5n, 'most')).balance, 'number');
});

// ---------------------------------------------------------------- the hold

test('a hold settles with the reported usage', async () => {
  const w = await newWallet();
  let hold;
  const value = await ledger.hold(w, 300, { ttl: 60, key: 'call-1' }, async (h) => {
    hold = h;
    assert.equal((await ledger.balance(w)).available, 700);
    h.report(137);
    return 'answer';
  });
  assert.equal(value, 'answer');
  assert.deepEqual([hold.result.kind, hold.result.amount], ['settle', 137]);
  assert.equal((await ledger.balance(w)).balance, 863);
  assert.deepEqual(await events(w), [['credit', 1000], ['reserve', 300], ['settle', 137]]);
});

test('a hold is cancelled when the call throws', async () => {
  const w = await newWallet();
  await assert.rejects(ledger.hold(w, 300, { key: 'call-2' }, async () => {
    throw new Error('model down');
  }), /model down/);
  const b = await ledger.balance(w);
  assert.deepEqual([b.balance, b.available], [1000, 1000]);
  assert.deepEqual(await events(w), [['credit', 1000], ['reserve', 300], ['cancel', 300]]);
});

test('a failed stream is billed for what it used', async () => {
  const w = await newWallet();
  let hold;
  await assert.rejects(ledger.hold(w, 300, { key: 'call-3' }, async (h) => {
    hold = h;
    h.add(40);
    h.add(30);
    throw new Error('stream cut');
  }));
  assert.deepEqual([hold.result.kind, hold.result.amount], ['settle', 70]);
  assert.equal((await ledger.balance(w)).balance, 930);
});

test('unreported usage captures the hold, or cancels it', async () => {
  const w = await newWallet();
  let hold;
  await ledger.hold(w, 250, { key: 'call-4' }, async (h) => { hold = h; });
  assert.deepEqual([hold.result.kind, hold.result.amount], ['settle', 250]);
  await ledger.hold(w, 250, { key: 'call-5', onUnreported: 'cancel' }, async (h) => { hold = h; });
  assert.equal(hold.result.kind, 'cancel');
  assert.equal((await ledger.balance(w)).balance, 750);
});

test('usage above the hold is capped and kept as overage', async () => {
  const w = await newWallet();
  let hold;
  await ledger.hold(w, 100, { key: 'call-6' }, async (h) => { hold = h; h.report(130); });
  assert.equal(hold.result.amount, 100);
  assert.equal(hold.overage, 30);
});

test('a refused call never runs', async () => {
  const w = await newWallet();
  let ran = false;
  await assert.rejects(ledger.hold(w, 5000, { key: 'call-7' }, async () => { ran = true; }),
    bl.InsufficientFundsError);
  assert.equal(ran, false);
  assert.equal((await ledger.balance(w)).reserved, 0);
});

test('a retried hold does not charge twice', async () => {
  const w = await newWallet();
  let hold;
  for (let i = 0; i < 2; i++) {
    await ledger.hold(w, 300, { key: 'call-8' }, async (h) => { hold = h; h.report(100); });
  }
  assert.equal(hold.result.replayed, true);
  assert.equal((await ledger.balance(w)).balance, 900);
});

// ---------------------------------------------------------------- heartbeat

async function* slowStream(chunks, pauseMs) {
  for (const c of chunks) {
    await sleep(pauseMs);
    yield c;
  }
}

test('the heartbeat keeps a hold alive while the stream runs', async () => {
  const w = await newWallet();
  let hold;
  // A 1-second hold around a stream that lasts about 2 seconds.
  await ledger.hold(w, 300, { ttl: 1, key: 'call-9' }, async (h) => {
    hold = h;
    for await (const tokens of h.stream(slowStream([10, 10, 10, 10, 10], 400), { every: 0.3 })) {
      h.add(tokens);
    }
  });
  assert.equal(hold.heartbeatError, null);
  assert.ok(hold.extensions >= 4, `extended ${hold.extensions} times`);
  assert.deepEqual([hold.result.kind, hold.result.amount], ['settle', 50]);
  const kinds = (await events(w)).map(([k]) => k);
  assert.equal(kinds.filter((k) => k === 'extend').length, hold.extensions);
  assert.equal(kinds.at(-1), 'settle');
});

test('without the heartbeat the same stream loses its hold', async () => {
  const w = await newWallet();
  await assert.rejects(ledger.hold(w, 300, { ttl: 1, key: 'call-10' }, async (h) => {
    for await (const tokens of slowStream([10, 10, 10, 10, 10], 400)) h.add(tokens);
  }), bl.ReservationExpiredError);
  const b = await ledger.balance(w);
  assert.deepEqual([b.balance, b.reserved], [1000, 0]);
});

// ---------------------------------------------------------------- budgets for fleets

// A tree: an org with 1000 credits and a team under it with 500 of its own
// (each level is a budget). Returns the team's id.
async function newTeam() {
  const org = `jsorg-${crypto.randomUUID().slice(0, 12)}`;
  await ledger.createWallet(org);
  await ledger.credit(org, 1000, 'fund');
  const team = `${org}/team`;
  await ledger.createWallet(team);
  await ledger.credit(team, 500, 'fund');
  return team;
}

test('insufficient funds names the level that refused', async () => {
  const team = await newTeam();
  const org = team.split('/')[0];
  await assert.rejects(ledger.debit(team, 600, 'd1'), (e) => e instanceof bl.InsufficientFundsError
    && e.detail === `Wallet "${team}" has 500 available; 600 was requested.`);
  await ledger.credit(team, 2000, 'more');
  await assert.rejects(ledger.debit(team, 1500, 'd2'), (e) => e instanceof bl.InsufficientFundsError
    && e.detail === `Wallet "${org}" has 1000 available; 1500 was requested.`);
});

test('an uncapped agent spends its team\'s budget', async () => {
  const team = await newTeam();
  const agent = `${team}/agent-u`;
  await ledger.createWallet(agent, 'credits', null, { capped: false });
  await ledger.debit(agent, 200, 'd1');
  assert.equal((await ledger.balance(agent)).balance, -200);
  assert.equal((await ledger.balance(team)).balance, 300);
  await assert.rejects(ledger.credit(agent, 10, 'c1'),
    (e) => e instanceof bl.LedgerError && e.sqlstate === '55000');
  await assert.rejects(ledger.createWallet(`${team}/nobody/agent`),
    (e) => e instanceof bl.WalletNotFoundError && e.detail.includes(`${team}/nobody`));
});

test('the concurrency cap is a typed error', async () => {
  const team = await newTeam();
  const agent = `${team}/agent-1`;
  await ledger.createWallet(agent, 'credits', null, { capped: false });
  await admin.query('SELECT ledger.ledger_set_concurrency($1, 1)', [team]);
  let ran = false;
  let refusal;
  await ledger.hold(agent, 10, { key: 'c-1' }, async (first) => {
    await assert.rejects(ledger.hold(agent, 10, { key: 'c-2' }, async () => { ran = true; }),
      (e) => { refusal = e; return e instanceof bl.LimitReachedError; });
    first.report(4);
  });
  assert.equal(ran, false);
  assert.equal(refusal.sqlstate, 'LB008');
  assert.equal(refusal.message, 'concurrency limit reached');
  assert.equal(refusal.detail, `Wallet "${team}" has 1 active reservations; its limit is 1.`);
  assert.ok(refusal instanceof bl.LedgerError);
  // The first hold is closed: the cap admits the next one.
  await ledger.hold(agent, 10, { key: 'c-3' }, async (h) => h.report(6));
  assert.equal((await ledger.balance(team)).balance, 490);
});

test('period limits are typed errors', async () => {
  const team = await newTeam();
  const org = team.split('/')[0];
  // A month: the test does not straddle a period boundary in practice.
  await admin.query("SELECT ledger.ledger_set_limit($1, 'month', 100, NULL)", [team]);
  await ledger.debit(team, 90, 'd1');
  await assert.rejects(ledger.debit(team, 20, 'd2'), (e) => e instanceof bl.LimitReachedError
    && e.sqlstate === 'LB008' && e.message === 'period amount limit reached'
    && e.detail === `Wallet "${team}" has used 90 of its month limit of 100; 20 was requested.`);
  // The refused debit left no trace: 10 more still fit.
  await ledger.debit(team, 10, 'd2');
  // Both bounds NULL removes the team's limit; the org's request limit counts
  // the requests of its whole tree from now on.
  await admin.query("SELECT ledger.ledger_set_limit($1, 'month', NULL, NULL)", [team]);
  await admin.query("SELECT ledger.ledger_set_limit($1, 'month', NULL, 2)", [org]);
  await ledger.debit(team, 1, 'd3');
  await ledger.debit(org, 1, 'd4');
  await assert.rejects(ledger.hold(team, 1, { key: 'r-1' }, async () => {}),
    (e) => e instanceof bl.LimitReachedError && e.message === 'period request limit reached'
      && e.detail === `Wallet "${org}" has admitted 2 of its month limit of 2 requests.`);
});

test('a hold with allowOverage settles the whole usage', async () => {
  const w = await newWallet();
  let hold;
  await ledger.hold(w, 100, { key: 'o-1', allowOverage: true }, async (h) => { hold = h; h.report(130); });
  assert.deepEqual([hold.result.kind, hold.result.amount, hold.overage], ['settle', 130, 0]);
  assert.equal((await ledger.balance(w)).balance, 870);
  assert.equal((await ledger.reservation(w, hold.reservationId)).captured, 130);
  // An excess that does not fit what is available: the hold is captured and
  // the excess kept, as without allowOverage; a rerun replays that settle.
  for (let i = 0; i < 2; i++) {
    await ledger.hold(w, 100, { key: 'o-2', allowOverage: true }, async (h) => { hold = h; h.report(1000); });
    assert.deepEqual([hold.result.amount, hold.overage, hold.result.replayed], [100, 900, i === 1]);
  }
  assert.equal((await ledger.balance(w)).balance, 770);
  // Without the flag the ledger refuses to capture above the hold.
  const r = await ledger.reserve(w, 50, 60, 'o-3');
  await assert.rejects(ledger.settle(w, r.reservationId, 60, 'o-3/settle'), bl.CaptureExceedsHoldError);
  const s = await ledger.settle(w, r.reservationId, 60, 'o-3/settle', null, { allowOverage: true });
  assert.equal(s.amount, 60);
  assert.deepEqual((await events(w)).slice(-2), [['reserve', 50], ['settle', 60]]);
  assert.deepEqual(await verify(), []);
});

test('onExpire capture charges a lapsed hold', async () => {
  const w = await newWallet();
  const r = await ledger.reserve(w, 100, 1, 'cap', null, { onExpire: 'capture' });
  assert.equal((await ledger.reservation(w, r.reservationId)).onExpire, 'capture');
  await sleep(1200);
  // Lapsed and not yet swept: the held amount is already spent.
  let b = await ledger.balance(w);
  assert.deepEqual([b.reserved, b.available], [0, 900]);
  await admin.query('SELECT ledger.ledger_expire()');
  const res = await ledger.reservation(w, r.reservationId);
  assert.deepEqual([res.state, res.captured, res.onExpire], ['expired', 100, 'capture']);
  b = await ledger.balance(w);
  assert.deepEqual([b.balance, b.reserved, b.available], [900, 0, 900]);
  await ledger.hold(w, 10, { key: 'cap-2', onExpire: 'capture' }, async (h) => {
    assert.equal((await ledger.reservation(w, h.reservationId)).onExpire, 'capture');
    h.report(3);
  });
  assert.equal((await ledger.balance(w)).balance, 897);
});

// ---------------------------------------------------------------- retries

test('a call is retried after its connection was killed', async () => {
  const w = await newWallet();
  const one = new bl.Ledger({ max: 1 });
  try {
    await one.balance(w);
    const pids = (await admin.query(
      "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'")).rows.map((r) => r.pid);
    await admin.query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) pid', [pids]);
    await sleep(100);
    const r = await one.debit(w, 10, 'after-kill');
    assert.equal(r.replayed, false);
    assert.equal((await one.balance(w)).balance, 990);
  } finally {
    await one.close();
    // The main pool lost its connections too: it reconnects on the next call.
  }
});

test('a lost reply is retried with the same key', async () => {
  const w = await newWallet();
  const host = process.env.PGHOST || 'localhost';
  const upstream = host === 'localhost' || host.startsWith('/') ? '127.0.0.1' : host;
  const proxy = await new FlakyProxy(upstream, Number(process.env.PGPORT || 5432)).listen();
  const flaky = new bl.Ledger({ host: '127.0.0.1', port: proxy.port, max: 1 });
  try {
    await flaky.balance(w);
    proxy.dropNextReply();
    const r = await flaky.debit(w, 25, 'lost-reply');
    // The first attempt committed; its reply was lost; the retry found it
    // and replayed it.
    assert.equal(proxy.dropped, 1);
    assert.equal(r.replayed, true);
    assert.equal(proxy.connections, 2);
    // A reserve whose reply is lost yields the same hold.
    proxy.dropNextReply();
    await flaky.hold(w, 100, { key: 'lost-reserve' }, async (h) => h.report(60));
    assert.equal(proxy.dropped, 2);
  } finally {
    await flaky.close();
    await proxy.close();
  }
  assert.deepEqual(await events(w), [['credit', 1000], ['debit', 25], ['reserve', 100], ['settle', 60]]);
  assert.deepEqual(await verify(), []);
});

test('an unreachable server gives up after the retries', async () => {
  const port = await new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p)); // nothing listens there now
    });
  });
  const nowhere = new bl.Ledger({ host: '127.0.0.1', port, retries: 2, backoff: 10 });
  try {
    await assert.rejects(nowhere.balance('js/x'),
      (e) => e instanceof bl.LedgerUnavailableError && /after 3 attempts/.test(e.message));
  } finally {
    await nowhere.close();
  }
});

// ---------------------------------------------------------------- concurrency and the fleet

test('concurrent holds never overspend', async () => {
  const w = await newWallet();
  let refused = 0;
  await Promise.all(Array.from({ length: 6 }, async (_, n) => {
    for (let i = 0; i < 10; i++) {
      try {
        await ledger.hold(w, 60, { key: `t${n}-${i}` }, async (h) => h.report(50));
      } catch (e) {
        if (!(e instanceof bl.InsufficientFundsError)) throw e;
        refused += 1;
      }
    }
  }));
  const b = await ledger.balance(w);
  assert.equal(b.reserved, 0);
  assert.equal(1000 - b.balance, 50 * (60 - refused));
  assert.ok(refused >= 40);
  assert.deepEqual(await verify(), []);
});

test('the fleet example', async () => {
  const lines = [];
  const wallet = `fleet-test-${crypto.randomUUID().slice(0, 8)}`;
  const t = await runFleet(ledger, wallet, { agents: 6, calls: 15, budget: 12000, seed: 3, out: (l) => lines.push(l) });
  const report = lines.join('\n');
  console.log(report);
  assert.ok(t.agree, report);
  assert.equal(t.calls, 90);
  assert.ok(t.refused > 0, 'the budget ran out');
  assert.ok(t.failed > 0, 'some calls failed');
  assert.equal(t.ok + t.failed + t.refused, 90);
  assert.ok(t.ledgerSpent > 0 && t.ledgerSpent <= 12000);
  assert.equal(t.reserved, 0);
  assert.match(report, /the ledger agrees with the agents' count/);
  assert.deepEqual(await verify(), []);
});

test('the fleet example from the command line', async () => {
  const { execFile } = require('node:child_process');
  const path = require('node:path');
  const script = path.join(__dirname, '..', 'examples', 'fleet.js');
  const wallet = `fleet-cli-${crypto.randomUUID().slice(0, 8)}`;
  const stdout = await new Promise((resolve, reject) => {
    execFile(process.execPath, [script, '--agents', '3', '--calls', '6', '--budget', '1500', '--wallet', wallet],
      { timeout: 120000 }, (err, out, errOut) => (err ? reject(new Error(`${err.message}\n${out}\n${errOut}`)) : resolve(out)));
  });
  assert.match(stdout, /3 agents x 6 calls against a budget of 1500 credits/);
  assert.match(stdout, /the ledger agrees with the agents' count/);
});
