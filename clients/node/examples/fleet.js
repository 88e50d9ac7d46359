#!/usr/bin/env node
'use strict';
// A simulated fleet of agents spending one budget through baseledger.
//
// Each agent makes calls to a pretend LLM: it holds the call's worst case
// (maxTokens x price) before the call, streams the response while the hold is
// kept alive, and settles with the tokens the response really used. Some
// calls fail: before any token (the hold is cancelled) or halfway (what was
// streamed is billed). When the budget can no longer cover a worst case, the
// call is refused before it is made. At the end the ledger must show exactly
// what the agents counted, and never more spent than the budget.
//
//   node examples/fleet.js --agents 8 --calls 25 --budget 20000
//
// Connects with the usual PG* environment variables.

const crypto = require('node:crypto');
const { parseArgs } = require('node:util');
const { Ledger, InsufficientFundsError } = require('..');

class ModelError extends Error {}

// A small seeded generator (mulberry32), so a run can be repeated.
function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  next.int = (lo, hi) => lo + Math.floor(next() * (hi - lo + 1));
  return next;
}

// Yields chunks of tokens, like a streamed completion.
async function* pretendLlm(random, maxTokens, failRate) {
  const used = random.int(Math.floor(maxTokens / 8), maxTokens);
  const failAt = random() < failRate ? random.int(0, used) : null;
  let sent = 0;
  while (sent < used) {
    if (failAt !== null && sent >= failAt) throw new ModelError(`stream cut after ${sent} tokens`);
    const chunk = Math.min(random.int(8, 64), used - sent);
    await new Promise((resolve) => setTimeout(resolve, random.int(0, 2)));
    sent += chunk;
    yield chunk;
  }
  if (failAt !== null) throw new ModelError('stream cut at its end');
}

async function runAgent(ledger, wallet, name, calls, maxTokens, price, failRate, seed) {
  const random = rng(seed * 7919 + Number(name.split('-')[1]));
  const s = { calls: 0, ok: 0, failed: 0, refused: 0, cancelled: 0, spent: 0 };
  for (let i = 0; i < calls; i++) {
    let hold = null;
    try {
      await ledger.hold(wallet, maxTokens * price,
        { ttl: 30, key: `${name}/call-${i}`, metadata: { agent: name } },
        async (h) => {
          hold = h;
          for await (const tokens of h.stream(pretendLlm(random, maxTokens, failRate), { every: 10 })) {
            h.add(tokens * price);
          }
        });
      s.ok += 1;
      s.spent += hold.result.amount;
    } catch (err) {
      if (err instanceof InsufficientFundsError) {
        s.refused += 1;
      } else if (err instanceof ModelError) {
        // A failed call is billed for what it streamed, or nothing.
        s.failed += 1;
        if (hold.result.kind === 'settle') s.spent += hold.result.amount;
        else s.cancelled += 1;
      } else {
        throw err;
      }
    }
    s.calls += 1;
  }
  return s;
}

// Runs the fleet against a new wallet funded with `budget`; prints a report
// and returns the totals with the ledger's own figures.
async function runFleet(ledger, wallet, { agents = 8, calls = 25, budget = 20000, maxTokens = 400,
  price = 1, failRate = 0.1, seed = 7, out = console.log } = {}) {
  await ledger.createWallet(wallet, 'credits', { example: 'fleet' });
  await ledger.credit(wallet, budget, 'budget');
  const started = Date.now();
  const names = Array.from({ length: agents }, (_, n) => `agent-${n + 1}`);
  const stats = await Promise.all(names.map((name) =>
    runAgent(ledger, wallet, name, calls, maxTokens, price, failRate, seed)));
  const elapsed = (Date.now() - started) / 1000;

  const pad = (v, n) => String(v).padStart(n);
  out(`${agents} agents x ${calls} calls against a budget of ${budget} credits (wallet ${wallet})`);
  out(`${'agent'.padEnd(10)} ${pad('calls', 6)} ${pad('ok', 6)} ${pad('failed', 7)} ${pad('refused', 8)} ${pad('spent', 8)}`);
  const total = { calls: 0, ok: 0, failed: 0, refused: 0, cancelled: 0, spent: 0 };
  names.forEach((name, i) => {
    const s = stats[i];
    for (const k of Object.keys(total)) total[k] += s[k];
    out(`${name.padEnd(10)} ${pad(s.calls, 6)} ${pad(s.ok, 6)} ${pad(s.failed, 7)} ${pad(s.refused, 8)} ${pad(s.spent, 8)}`);
  });
  out(`${'total'.padEnd(10)} ${pad(total.calls, 6)} ${pad(total.ok, 6)} ${pad(total.failed, 7)} ${pad(total.refused, 8)} ${pad(total.spent, 8)}`);

  const b = await ledger.balance(wallet);
  const ledgerSpent = budget - b.balance;
  out(`spent ${ledgerSpent} of ${budget}, ${b.available} left, ${b.reserved} held; ${total.refused} calls refused; ${elapsed.toFixed(1)} s`);
  const agree = ledgerSpent === total.spent && b.reserved === 0;
  out(`the ledger ${agree ? 'agrees with' : 'DISAGREES with'} the agents' count`);
  return { ...total, ledgerSpent, available: b.available, reserved: b.reserved, budget, agree };
}

async function main() {
  const { values } = parseArgs({
    options: {
      wallet: { type: 'string' },
      agents: { type: 'string', default: '8' },
      calls: { type: 'string', default: '25' },
      budget: { type: 'string', default: '20000' },
      'max-tokens': { type: 'string', default: '400' },
      'fail-rate': { type: 'string', default: '0.1' },
      seed: { type: 'string', default: '7' },
    },
  });
  const wallet = values.wallet || `fleet-demo-${crypto.randomUUID().slice(0, 8)}`;
  const agents = Number(values.agents);
  const ledger = new Ledger({ max: Math.min(agents + 2, 20) });
  try {
    const totals = await runFleet(ledger, wallet, {
      agents,
      calls: Number(values.calls),
      budget: Number(values.budget),
      maxTokens: Number(values['max-tokens']),
      failRate: Number(values['fail-rate']),
      seed: Number(values.seed),
    });
    process.exitCode = totals.agree && totals.ledgerSpent <= totals.budget ? 0 : 1;
  } finally {
    await ledger.close();
  }
}

module.exports = { runFleet };

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
