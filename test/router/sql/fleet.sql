-- Budgets for a fleet through the router (baseledger 0.3.0): a wallet tree
-- orbit/research/agent-N is one tenant, so it lives on one shard, where every
-- rule of the hierarchy holds: holds and captures at every level, refusals
-- that name the level, uncapped wallets, concurrency caps, period limits,
-- credit lines, overage, capture on expiry and alerts. A second tenant, vega,
-- is on another shard (orbit: partition 0, vega: partition 1 of four), so that
-- ledger_alerts() without a wallet merges two shards. The harness runs this
-- file through the router and directly against one baseledger database, with
-- this one expected output. Period limits are monthly: the file does not
-- straddle a month's boundary in practice.
SET search_path = ledger, public;
SET client_min_messages = warning;

-- 'ok', or the SQLSTATE, the message and the detail. PL/Proxy prefixes a
-- shard's message ("ledger.ledger_debit(4): [ledger_p0] REMOTE ERROR: ") and
-- its detail ("Remote detail: "); both are cut so the two runs compare.
-- Reservation ids in a detail are shown as <id>.
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  d text;
BEGIN
  EXECUTE q;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
  RETURN regexp_replace(
    SQLSTATE || ': ' || regexp_replace(SQLERRM, '^.*REMOTE ERROR: ', '')
    || coalesce(' | ' || nullif(regexp_replace(d, '^Remote detail: ', ''), ''), ''),
    '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<id>', 'g');
END $$;

-- Runs a write, then reads what another wallet has available (orbit's alerts
-- watch orbit while its agents spend).
CREATE FUNCTION pg_temp.then_available(q text, w text) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  RETURN (SELECT available FROM ledger.ledger_balance(w));
END $$;

-- A policy's limits without their period_start (a date that moves).
CREATE FUNCTION pg_temp.lim(l jsonb) RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_agg(e - 'period_start' ORDER BY o) FROM jsonb_array_elements(l) WITH ORDINALITY x(e, o)
$$;

-- Several wallets' balances at once, in the order given, without as_of.
CREATE FUNCTION pg_temp.tree(VARIADIC ws text[])
  RETURNS TABLE (wallet_id text, balance bigint, reserved bigint, available bigint,
                 active_reservations integer)
  LANGUAGE sql AS $$
  SELECT b.wallet_id, b.balance, b.reserved, b.available, b.active_reservations
    FROM unnest(ws) WITH ORDINALITY u(w, i), ledger.ledger_balance(u.w) b
   ORDER BY u.i
$$;

CREATE TEMP TABLE calls (label text PRIMARY KEY, LIKE ledger.ledger_result);
\set shown 'label, wallet_id, seq, kind, amount, balance, reserved, available, replayed'
CREATE FUNCTION pg_temp.rid(l text) RETURNS uuid LANGUAGE sql AS $$
  SELECT reservation_id FROM pg_temp.calls WHERE label = $1
$$;

-- ---------------------------------------------------------------- the tree

SELECT wallet_id, unit, balance FROM ledger_create_wallet('orbit');
SELECT wallet_id, unit, balance FROM ledger_create_wallet('orbit/research');
SELECT wallet_id, unit, balance FROM ledger_create_wallet('orbit/research/agent-1');
-- agent-2 is uncapped: no budget of its own, research and orbit bound it.
SELECT wallet_id, unit, balance FROM ledger_create_wallet('orbit/research/agent-2',
                                                          capped => false);
SELECT wallet_id, unit, balance FROM ledger_create_wallet('vega');
-- Refused: a child without its parent (LB002, the detail names the parent);
-- a unit other than the parent's; an uncapped root; more than 8 levels; an
-- existing wallet asked with another capped value (42710, like another unit).
SELECT pg_temp.try($$SELECT ledger_create_wallet('orbit/support/bot')$$);
SELECT pg_temp.try($$SELECT ledger_create_wallet('orbit/research/agent-3', 'tokens')$$);
SELECT pg_temp.try($$SELECT ledger_create_wallet('nova', capped => false)$$);
SELECT pg_temp.try($$SELECT ledger_create_wallet('orbit/a/b/c/d/e/f/g/h')$$);
SELECT pg_temp.try($$SELECT ledger_create_wallet('orbit/research/agent-2')$$);
-- The same wallet alike: returned unchanged.
SELECT wallet_id, unit, balance FROM ledger_create_wallet('orbit/research/agent-2',
                                                          capped => false);
SELECT wallet_id, capped, overdraft, max_active, pg_temp.lim(limits) AS limits
  FROM ledger_policy('orbit/research/agent-2');

-- ---------------------------------------------------------------- budgets

-- A credit goes to the wallet credited only: each level has its own budget.
SELECT wallet_id, seq, balance FROM ledger_credit('orbit', 1000, 'budget');
SELECT wallet_id, seq, balance FROM ledger_credit('orbit/research', 600, 'budget');
SELECT wallet_id, seq, balance FROM ledger_credit('orbit/research/agent-1', 300, 'budget');
SELECT wallet_id, seq, balance FROM ledger_credit('vega', 500, 'budget');
-- An uncapped wallet has no budget to credit.
SELECT pg_temp.try($$SELECT ledger_credit('orbit/research/agent-2', 10, 'budget')$$);

-- ---------------------------------------------------------------- a hold at every level

INSERT INTO calls SELECT 'hold-1', * FROM ledger_reserve('orbit/research/agent-1', 200,
                                                         '10 minutes', 'h1')
  RETURNING :shown;
SELECT * FROM pg_temp.tree('orbit', 'orbit/research', 'orbit/research/agent-1',
                           'orbit/research/agent-2');
-- Each ancestor has the event too, without the key (the key is the owner's).
SELECT wallet_id, seq, kind, amount, reservation_id = pg_temp.rid('hold-1') AS same_hold,
       idempotency_key, balance, reserved
  FROM ledger_history('orbit') ORDER BY seq;
SELECT wallet_id, seq, kind, amount, reservation_id = pg_temp.rid('hold-1') AS same_hold,
       idempotency_key, balance, reserved
  FROM ledger_history('orbit/research') ORDER BY seq;
-- The reservation itself lives in its owner only.
SELECT wallet_id, state, amount, captured, on_expire
  FROM ledger_reservation('orbit/research/agent-1', pg_temp.rid('hold-1'));
SELECT pg_temp.try(format($$SELECT ledger_reservation('orbit', %L)$$, pg_temp.rid('hold-1')));

-- ---------------------------------------------------------------- refusals name the level

-- agent-1 has 100 available.
SELECT pg_temp.try($$SELECT ledger_reserve('orbit/research/agent-1', 150, '10 minutes', 'h2')$$);
-- The uncapped agent-2 is bounded by research (400 available)...
SELECT pg_temp.try($$SELECT ledger_debit('orbit/research/agent-2', 450, 'd1')$$);
-- ... and spends within it, its own balance going below zero.
INSERT INTO calls SELECT 'debit-1', * FROM ledger_debit('orbit/research/agent-2', 50, 'd1')
  RETURNING :shown;
-- With research's budget raised, the root refuses first (750 available).
SELECT wallet_id, balance FROM ledger_credit('orbit/research', 2000, 'more');
SELECT pg_temp.try($$SELECT ledger_reserve('orbit/research/agent-2', 800, '10 minutes', 'h2')$$);
SELECT * FROM pg_temp.tree('orbit', 'orbit/research', 'orbit/research/agent-1',
                           'orbit/research/agent-2');

-- ---------------------------------------------------------------- overage

-- Above the hold: LB006, unless allow_overage; then the excess must fit what
-- every level has available besides the hold (agent-1: 100), so that no level
-- goes below its credit line.
SELECT pg_temp.try(format($$SELECT ledger_settle('orbit/research/agent-1', %L, 250, 's1')$$,
                          pg_temp.rid('hold-1')));
SELECT pg_temp.try(format($$SELECT ledger_settle('orbit/research/agent-1', %L, 600, 's1',
                                                 allow_overage => true)$$,
                          pg_temp.rid('hold-1')));
INSERT INTO calls SELECT 'settle-1', * FROM ledger_settle('orbit/research/agent-1',
                                                          pg_temp.rid('hold-1'), 250, 's1',
                                                          allow_overage => true)
  RETURNING :shown;
-- A retry replays; the same key without allow_overage is another request.
SELECT seq, amount, replayed FROM ledger_settle('orbit/research/agent-1', pg_temp.rid('hold-1'),
                                                250, 's1', allow_overage => true);
SELECT pg_temp.try(format($$SELECT ledger_settle('orbit/research/agent-1', %L, 250, 's1')$$,
                          pg_temp.rid('hold-1')));
SELECT state, amount, captured
  FROM ledger_reservation('orbit/research/agent-1', pg_temp.rid('hold-1'));
SELECT * FROM pg_temp.tree('orbit', 'orbit/research', 'orbit/research/agent-1',
                           'orbit/research/agent-2');

-- ---------------------------------------------------------------- concurrency

-- research admits one active hold in its whole subtree.
SELECT wallet_id, capped, overdraft, max_active, pg_temp.lim(limits) AS limits
  FROM ledger_set_concurrency('orbit/research', 1);
INSERT INTO calls SELECT 'hold-3', * FROM ledger_reserve('orbit/research/agent-2', 10,
                                                         '10 minutes', 'h3')
  RETURNING :shown;
SELECT pg_temp.try($$SELECT ledger_reserve('orbit/research/agent-1', 10, '10 minutes', 'h4')$$);
INSERT INTO calls SELECT 'cancel-3', * FROM ledger_cancel('orbit/research/agent-2',
                                                          pg_temp.rid('hold-3'), 'c3')
  RETURNING :shown;
INSERT INTO calls SELECT 'hold-4', * FROM ledger_reserve('orbit/research/agent-1', 10,
                                                         '10 minutes', 'h4')
  RETURNING :shown;
INSERT INTO calls SELECT 'cancel-4', * FROM ledger_cancel('orbit/research/agent-1',
                                                          pg_temp.rid('hold-4'), 'c4')
  RETURNING :shown;
SELECT pg_temp.try($$SELECT ledger_set_concurrency('orbit/research', -1)$$);
SELECT wallet_id, max_active FROM ledger_set_concurrency('orbit/research', NULL);

-- ---------------------------------------------------------------- period limits

-- A limit added mid-period starts counting at zero.
SELECT wallet_id, pg_temp.lim(limits) AS limits FROM ledger_set_limit('orbit', 'month', 300, NULL);
INSERT INTO calls SELECT 'debit-2', * FROM ledger_debit('orbit/research/agent-1', 40, 'd2')
  RETURNING :shown;
SELECT pg_temp.try($$SELECT ledger_reserve('orbit/research/agent-2', 270, '10 minutes', 'h5')$$);
-- A hold counts while it is held; a cancel gives it back (not the request).
INSERT INTO calls SELECT 'hold-6', * FROM ledger_reserve('orbit/research/agent-2', 100,
                                                         '10 minutes', 'h6')
  RETURNING :shown;
SELECT wallet_id, pg_temp.lim(limits) AS limits FROM ledger_policy('orbit');
INSERT INTO calls SELECT 'cancel-6', * FROM ledger_cancel('orbit/research/agent-2',
                                                          pg_temp.rid('hold-6'), 'c6')
  RETURNING :shown;
SELECT wallet_id, pg_temp.lim(limits) AS limits FROM ledger_policy('orbit');
-- A request limit (a cap on calls per period) on the other tenant.
SELECT wallet_id, pg_temp.lim(limits) AS limits FROM ledger_set_limit('vega', 'month', NULL, 2);
SELECT seq, balance FROM ledger_debit('vega', 1, 'v1');
SELECT seq, balance FROM ledger_debit('vega', 1, 'v2');
SELECT pg_temp.try($$SELECT ledger_debit('vega', 1, 'v3')$$);
-- Bad input; both bounds NULL removes the limit.
SELECT pg_temp.try($$SELECT ledger_set_limit('orbit', 'fortnight', 1, 1)$$);
SELECT pg_temp.try($$SELECT ledger_set_limit('orbit', 'month', -1, NULL)$$);
SELECT wallet_id, pg_temp.lim(limits) AS limits FROM ledger_set_limit('orbit', 'month', NULL, NULL);
SELECT wallet_id, pg_temp.lim(limits) AS limits FROM ledger_set_limit('vega', 'month', NULL, NULL);

-- ---------------------------------------------------------------- credit line

-- agent-1 has 10 available; a credit line of 100 lets it go to -100.
SELECT wallet_id, capped, overdraft FROM ledger_set_overdraft('orbit/research/agent-1', 100);
INSERT INTO calls SELECT 'debit-3', * FROM ledger_debit('orbit/research/agent-1', 60, 'd3')
  RETURNING :shown;
-- Not below what its history used (-50); not negative; not on an uncapped wallet.
SELECT pg_temp.try($$SELECT ledger_set_overdraft('orbit/research/agent-1', 20)$$);
SELECT wallet_id, overdraft FROM ledger_set_overdraft('orbit/research/agent-1', 50);
SELECT pg_temp.try($$SELECT ledger_set_overdraft('orbit/research/agent-1', -1)$$);
SELECT pg_temp.try($$SELECT ledger_set_overdraft('orbit/research/agent-2', 10)$$);
SELECT pg_temp.try($$SELECT ledger_debit('orbit/research/agent-1', 1, 'd4')$$);

-- ---------------------------------------------------------------- capture on expiry (a real second)

INSERT INTO calls SELECT 'hold-x', * FROM ledger_reserve('vega', 100, '1 second', 'x1',
                                                         on_expire => 'capture')
  RETURNING :shown;
SELECT state, amount, on_expire FROM ledger_reservation('vega', pg_temp.rid('hold-x'));
SELECT pg_temp.try($$SELECT ledger_reserve('vega', 10, '1 minute', 'x2', on_expire => 'keep')$$);
SELECT pg_sleep(1.2);
-- Lapsed: no longer held, and already spent.
SELECT * FROM pg_temp.tree('vega');
SELECT ledger_expire() AS expired;
SELECT state, amount, captured, on_expire
  FROM ledger_reservation('vega', pg_temp.rid('hold-x'));
SELECT seq, kind, amount, balance, reserved FROM ledger_history('vega') ORDER BY seq;

-- ---------------------------------------------------------------- alerts

-- orbit has 600 available: an alert below 600 fires once per crossing.
SELECT ledger_set_alert('orbit', 'available_below', 600);
SELECT pg_temp.then_available($$SELECT ledger_debit('orbit/research/agent-2', 100, 'd5')$$,
                              'orbit') AS fires;
SELECT pg_temp.then_available($$SELECT ledger_debit('orbit/research/agent-2', 10, 'd6')$$,
                              'orbit') AS already_fired;
SELECT pg_temp.then_available($$SELECT ledger_credit('orbit', 200, 'top-up')$$,
                              'orbit') AS re_armed;
SELECT pg_temp.then_available($$SELECT ledger_debit('orbit/research/agent-2', 100, 'd7')$$,
                              'orbit') AS fires_again;
-- vega: below 300, and half of a monthly amount limit.
SELECT ledger_set_alert('vega', 'available_below', 300);
SELECT available FROM ledger_debit('vega', 100, 'v4');                     -- 298: fires
SELECT pg_temp.try($$SELECT ledger_set_alert('vega', 'period_used_pct', 50)$$);
SELECT pg_temp.try($$SELECT ledger_set_alert('vega', 'sometimes', 50)$$);
SELECT wallet_id, pg_temp.lim(limits) AS limits FROM ledger_set_limit('vega', 'month', 1000, NULL);
SELECT ledger_set_alert('vega', 'period_used_pct', 50, 'month');
SELECT available FROM ledger_credit('vega', 1000, 'more');                 -- 1298
SELECT available FROM ledger_debit('vega', 200, 'v5');                     -- 20% used
SELECT available FROM ledger_debit('vega', 300, 'v6');                     -- 50% used: fires
-- One wallet's alerts come from its shard; without a wallet, every shard's,
-- merged by time. Ids are each shard's own: not shown.
SELECT wallet_id, kind, period, threshold, value FROM ledger_alerts('orbit');
SELECT wallet_id, kind, period, threshold, value FROM ledger_alerts('vega');
SELECT wallet_id, kind, period, threshold, value FROM ledger_alerts();
SELECT wallet_id, kind, value
  FROM ledger_alerts('vega', (SELECT min(alert_id) FROM ledger_alerts('vega')), 10);
SELECT count(*) AS alerts FROM ledger_alerts(NULL, 0, 3);
SELECT pg_temp.try($$SELECT * FROM ledger_alerts(NULL, 0, 0)$$);
-- A removed alert fires no more.
SELECT ledger_set_alert('orbit', 'available_below', NULL);
SELECT pg_temp.then_available($$SELECT ledger_credit('orbit', 100, 'top-up-2')$$, 'orbit');
SELECT pg_temp.then_available($$SELECT ledger_debit('orbit/research/agent-2', 200, 'd8')$$,
                              'orbit') AS no_alert;
SELECT count(*) AS orbit_alerts FROM ledger_alerts('orbit');

-- ---------------------------------------------------------------- consistent

SELECT * FROM pg_temp.tree('orbit', 'orbit/research', 'orbit/research/agent-1',
                           'orbit/research/agent-2', 'vega');
SELECT * FROM ledger_verify('orbit/research/agent-1');
SELECT * FROM ledger_verify();
