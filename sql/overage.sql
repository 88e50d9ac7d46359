-- Overage at settle and the expiry action. ledger_settle(..., allow_overage
-- => true) captures more than was held when the excess fits what is
-- available (within the credit line) at every capped level, else LB006 naming
-- the level; the excess counts in the period limits but is never refused by
-- them. ledger_reserve(..., on_expire => 'capture') charges the held amount
-- when the hold lapses, from the next write or from ledger_expire(), at every
-- level. Both are part of the idempotency fingerprint (LB007).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS baseledger CASCADE;
CREATE EXTENSION baseledger;
RESET client_min_messages;
SET search_path = ledger, public;
-- Only this file's ledger_expire() calls close holds here: the pg_cron sweep
-- is off while it runs (the next CREATE EXTENSION schedules it again).
SELECT ledger_unschedule_expiry() AS unscheduled;

-- The error of a statement: SQLSTATE, message and detail ('ok' when none).
CREATE FUNCTION pg_temp.error_of(q text, OUT code text, OUT message text, OUT detail text)
  LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  code := 'ok';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
                          detail = PG_EXCEPTION_DETAIL;
END $$;
-- Whether a text names a wallet id as a whole (not as part of a longer id).
CREATE FUNCTION pg_temp.names(t text, wallet text) RETURNS boolean LANGUAGE sql AS $$
  SELECT t ~ ('(^|[^A-Za-z0-9._:@/-])' || replace(wallet, '.', '\.') || '($|[^A-Za-z0-9._:@/-])')
$$;
-- Everything stored in the ledger's tables, as one value: equal before and
-- after a call means that the call wrote nothing.
CREATE FUNCTION pg_temp.state() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  t regclass;
  part text;
  acc text := '';
BEGIN
  FOR t IN SELECT c.oid FROM pg_class c
            WHERE c.relnamespace = 'ledger'::regnamespace AND c.relkind = 'r'
            ORDER BY c.relname LOOP
    EXECUTE format('SELECT md5(coalesce(string_agg(x::text, '';'' ORDER BY x::text), '''')) FROM %s x', t)
      INTO part;
    acc := acc || part;
  END LOOP;
  RETURN md5(acc);
END $$;
-- Runs one write (a ledger_result function of schema ledger) under a label:
-- its event, or its SQLSTATE, message and detail.
CREATE TEMP TABLE calls (label text PRIMARY KEY, LIKE ledger.ledger_result);
CREATE FUNCTION pg_temp.call(label text, q text, OUT result text, OUT detail text)
  LANGUAGE plpgsql AS $$
DECLARE
  r ledger.ledger_result;
  code text;
  msg text;
BEGIN
  EXECUTE 'SELECT * FROM ledger.' || q INTO STRICT r;
  INSERT INTO pg_temp.calls SELECT label, r.*;
  result := format('%s %s: balance %s, reserved %s, available %s%s', r.kind, r.amount, r.balance,
                   r.reserved, r.available, CASE WHEN r.replayed THEN ', replayed' ELSE '' END);
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL;
  result := code || ': ' || msg;
END $$;
CREATE FUNCTION pg_temp.rid(label text) RETURNS uuid LANGUAGE sql AS $$
  SELECT reservation_id FROM pg_temp.calls WHERE label = $1 AND kind = 'reserve'
$$;
-- A hold as ledger_reservation() shows it, by label.
CREATE FUNCTION pg_temp.hold(label text)
  RETURNS TABLE (hold text, wallet_id text, state text, amount bigint, captured bigint, on_expire text)
  LANGUAGE sql AS $$
  SELECT c.label, r.wallet_id, r.state, r.amount, r.captured, r.on_expire
    FROM pg_temp.calls c, ledger.ledger_reservation(c.wallet_id, c.reservation_id) r
   WHERE c.label = $1 AND c.kind = 'reserve'
$$;
-- Balances of some wallets, in the order given, without the as_of time.
CREATE FUNCTION pg_temp.bal(VARIADIC ids text[])
  RETURNS TABLE (wallet_id text, balance bigint, reserved bigint, available bigint,
                 active_reservations integer, last_seq bigint)
  LANGUAGE sql AS $$
  SELECT b.wallet_id, b.balance, b.reserved, b.available, b.active_reservations, b.last_seq
    FROM unnest(ids) WITH ORDINALITY AS w(id, n), ledger.ledger_balance(w.id) b ORDER BY w.n
$$;
-- A wallet's events without their times.
CREATE FUNCTION pg_temp.hist(w text, after bigint DEFAULT 0)
  RETURNS TABLE (wallet_id text, seq bigint, kind text, amount bigint, hold text,
                 idempotency_key text, balance bigint, reserved bigint)
  LANGUAGE sql AS $$
  SELECT e.wallet_id, e.seq, e.kind, e.amount, c.label, e.idempotency_key, e.balance, e.reserved
    FROM ledger.ledger_history(w, after) e
    LEFT JOIN pg_temp.calls c ON c.reservation_id = e.reservation_id AND c.kind = 'reserve'
   ORDER BY e.seq
$$;

-- ---------------------------------------------------------------- overage on a flat wallet

SELECT wallet_id FROM ledger_create_wallet('ovg-flat');
SELECT result FROM pg_temp.call('flat fund', $$ledger_credit('ovg-flat', 100, 'fund')$$);
SELECT 'v1' AS label, * FROM pg_temp.call('v1', $$ledger_reserve('ovg-flat', 50, '1 hour', 'v1')$$);
SELECT 'v2' AS label, * FROM pg_temp.call('v2', $$ledger_reserve('ovg-flat', 30, '1 hour', 'v2')$$);
-- 20 available beyond the holds: v1 may capture up to 50 + 20, and only
-- with allow_overage.
SELECT pg_temp.state() AS before \gset
SELECT label, e.code, e.message,
       CASE WHEN label = '71 with allow_overage' THEN pg_temp.names(e.detail, 'ovg-flat') END AS detail_names_wallet
  FROM (VALUES
    ('71 without allow_overage', $$SELECT ledger_settle('ovg-flat', pg_temp.rid('v1'), 71, 'v1 settle')$$),
    ('71 with allow_overage => false', $$SELECT ledger_settle('ovg-flat', pg_temp.rid('v1'), 71, 'v1 settle', NULL, false)$$),
    ('71 with allow_overage', $$SELECT ledger_settle('ovg-flat', pg_temp.rid('v1'), 71, 'v1 settle', allow_overage => true)$$)
  ) AS t(label, q), pg_temp.error_of(q) e;
SELECT pg_temp.state() = :'before' AS nothing_written;
SELECT 'v1 settle' AS label, * FROM pg_temp.call('v1 settle',
  $$ledger_settle('ovg-flat', pg_temp.rid('v1'), 70, 'v1 settle', allow_overage => true)$$);
SELECT * FROM pg_temp.hold('v1');
-- allow_overage with no excess is a plain settle.
SELECT 'v2 settle' AS label, * FROM pg_temp.call('v2 settle',
  $$ledger_settle('ovg-flat', pg_temp.rid('v2'), 30, 'v2 settle', allow_overage => true)$$);
SELECT * FROM pg_temp.hold('v2');
SELECT * FROM pg_temp.bal('ovg-flat');

-- ---------------------------------------------------------------- overage at every level

-- ovg: 1000, ovg/t: 300, ovg/t/a: 100, all capped.
SELECT wallet_id FROM ledger_create_wallet('ovg');
SELECT wallet_id FROM ledger_create_wallet('ovg/t');
SELECT wallet_id FROM ledger_create_wallet('ovg/t/a');
SELECT result FROM pg_temp.call('ovg fund', $$ledger_credit('ovg', 1000, 'fund')$$);
SELECT result FROM pg_temp.call('ovg/t fund', $$ledger_credit('ovg/t', 300, 'fund')$$);
SELECT result FROM pg_temp.call('ovg/t/a fund', $$ledger_credit('ovg/t/a', 100, 'fund')$$);
-- The agent's own budget: 40 beyond a hold of 60.
SELECT 'a1' AS label, * FROM pg_temp.call('a1', $$ledger_reserve('ovg/t/a', 60, '1 hour', 'a1')$$);
SELECT * FROM pg_temp.bal('ovg', 'ovg/t', 'ovg/t/a');
SELECT e.code, e.message, pg_temp.names(e.detail, 'ovg/t/a') AS detail_names_agent
  FROM pg_temp.error_of($$SELECT ledger_settle('ovg/t/a', pg_temp.rid('a1'), 101, 'a1 settle', allow_overage => true)$$) e;
SELECT 'a1 settle' AS label, * FROM pg_temp.call('a1 settle',
  $$ledger_settle('ovg/t/a', pg_temp.rid('a1'), 100, 'a1 settle', allow_overage => true)$$);
SELECT * FROM pg_temp.hist('ovg', 1);
SELECT * FROM pg_temp.hist('ovg/t', 1);
SELECT * FROM pg_temp.hist('ovg/t/a', 1);
SELECT * FROM pg_temp.hold('a1');
-- The team's budget: 150 beyond a hold of 50 (the agent has 950).
SELECT result FROM pg_temp.call('ovg/t/a top-up', $$ledger_credit('ovg/t/a', 1000, 'top-up')$$);
SELECT 'a2' AS label, * FROM pg_temp.call('a2', $$ledger_reserve('ovg/t/a', 50, '1 hour', 'a2')$$);
SELECT * FROM pg_temp.bal('ovg', 'ovg/t', 'ovg/t/a');
SELECT e.code, e.message, pg_temp.names(e.detail, 'ovg/t') AS detail_names_team
  FROM pg_temp.error_of($$SELECT ledger_settle('ovg/t/a', pg_temp.rid('a2'), 201, 'a2 settle', allow_overage => true)$$) e;
SELECT 'a2 settle' AS label, * FROM pg_temp.call('a2 settle',
  $$ledger_settle('ovg/t/a', pg_temp.rid('a2'), 200, 'a2 settle', allow_overage => true)$$);
SELECT * FROM pg_temp.bal('ovg', 'ovg/t', 'ovg/t/a');
-- The root's budget: 600 beyond a hold of 100 (the team has 1900, the agent 700).
SELECT result FROM pg_temp.call('ovg/t top-up', $$ledger_credit('ovg/t', 2000, 'top-up')$$);
SELECT 'a3' AS label, * FROM pg_temp.call('a3', $$ledger_reserve('ovg/t/a', 100, '1 hour', 'a3')$$);
SELECT * FROM pg_temp.bal('ovg', 'ovg/t', 'ovg/t/a');
SELECT pg_temp.state() AS before \gset
SELECT e.code, e.message, pg_temp.names(e.detail, 'ovg') AS detail_names_root
  FROM pg_temp.error_of($$SELECT ledger_settle('ovg/t/a', pg_temp.rid('a3'), 701, 'a3 settle', allow_overage => true)$$) e;
SELECT pg_temp.state() = :'before' AS nothing_written;
SELECT 'a3 settle' AS label, * FROM pg_temp.call('a3 settle',
  $$ledger_settle('ovg/t/a', pg_temp.rid('a3'), 700, 'a3 settle', allow_overage => true)$$);
SELECT * FROM pg_temp.bal('ovg', 'ovg/t', 'ovg/t/a');
SELECT * FROM pg_temp.hold('a3');

-- An uncapped level does not bound the excess; its ancestors do.
SELECT wallet_id FROM ledger_create_wallet('ovg-tree');
SELECT wallet_id FROM ledger_create_wallet('ovg-tree/a', capped => false);
SELECT result FROM pg_temp.call('ovg-tree fund', $$ledger_credit('ovg-tree', 500, 'fund')$$);
SELECT 'y0' AS label, * FROM pg_temp.call('y0', $$ledger_reserve('ovg-tree/a', 10, '1 hour', 'y0')$$);
SELECT 'y0 settle' AS label, * FROM pg_temp.call('y0 settle',
  $$ledger_settle('ovg-tree/a', pg_temp.rid('y0'), 50, 'y0 settle', allow_overage => true)$$);
SELECT * FROM pg_temp.bal('ovg-tree', 'ovg-tree/a');

-- ---------------------------------------------------------------- overage and the credit line

SELECT wallet_id FROM ledger_create_wallet('ovg-od');
SELECT result FROM pg_temp.call('ovg-od fund', $$ledger_credit('ovg-od', 100, 'fund')$$);
SELECT p.overdraft FROM ledger_set_overdraft('ovg-od', 50) p;
SELECT 'o1' AS label, * FROM pg_temp.call('o1', $$ledger_reserve('ovg-od', 100, '1 hour', 'o1')$$);
SELECT e.code, e.message FROM pg_temp.error_of(
  $$SELECT ledger_settle('ovg-od', pg_temp.rid('o1'), 151, 'o1 settle', allow_overage => true)$$) e;
SELECT 'o1 settle' AS label, * FROM pg_temp.call('o1 settle',
  $$ledger_settle('ovg-od', pg_temp.rid('o1'), 150, 'o1 settle', allow_overage => true)$$);

-- ---------------------------------------------------------------- overage and period limits

-- The excess counts in the limit's amount, but the call already happened:
-- the settle is not refused, the next admission is.
CREATE FUNCTION pg_temp.day_start() RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  -- An hour into the current UTC day, on the ledger's clock.
  PERFORM set_config('baseledger.clock_offset',
    round(extract(epoch FROM date_trunc('day', clock_timestamp(), 'UTC') + interval '1 hour'
                             - clock_timestamp()) * 1000)::bigint::text, false);
  RETURN 'an hour into the day';
END $$;
SET baseledger.timezone = 'UTC';
SELECT pg_temp.day_start();
SELECT wallet_id FROM ledger_create_wallet('ovg-lim');
SELECT result FROM pg_temp.call('ovg-lim fund', $$ledger_credit('ovg-lim', 1000, 'fund')$$);
SELECT l->>'period' AS period, l->'max_amount' AS max_amount
  FROM ledger_set_limit('ovg-lim', 'day', 100, NULL) p, jsonb_array_elements(p.limits) l;
SELECT 'l1' AS label, * FROM pg_temp.call('l1', $$ledger_reserve('ovg-lim', 90, '1 hour', 'l1')$$);
SELECT 'l1 settle' AS label, * FROM pg_temp.call('l1 settle',
  $$ledger_settle('ovg-lim', pg_temp.rid('l1'), 150, 'l1 settle', allow_overage => true)$$);
SELECT l->>'period' AS period, l->'used_amount' AS used_amount, l->'used_requests' AS used_requests
  FROM ledger_policy('ovg-lim') p, jsonb_array_elements(p.limits) l;
SELECT 'l2' AS label, * FROM pg_temp.call('l2', $$ledger_debit('ovg-lim', 1, 'l2')$$);
RESET baseledger.clock_offset;

-- ---------------------------------------------------------------- fingerprints

SELECT wallet_id FROM ledger_create_wallet('ovg-fp');
SELECT result FROM pg_temp.call('ovg-fp fund', $$ledger_credit('ovg-fp', 1000, 'fund')$$);
SELECT 'p1' AS label, * FROM pg_temp.call('p1', $$ledger_reserve('ovg-fp', 100, '1 hour', 'p1')$$);
SELECT 'p2' AS label, * FROM pg_temp.call('p2', $$ledger_reserve('ovg-fp', 100, '1 hour', 'p2', NULL, 'capture')$$);
SELECT * FROM pg_temp.hold('p1');
SELECT * FROM pg_temp.hold('p2');
-- A retry with the same on_expire replays (the default is 'refund'); with
-- the other one it is LB007.
SELECT pg_temp.state() AS before \gset
SELECT 'p1 again' AS label, * FROM pg_temp.call('p1 again', $$ledger_reserve('ovg-fp', 100, '1 hour', 'p1', on_expire => 'refund')$$);
SELECT 'p1 as capture' AS label, * FROM pg_temp.call('p1 as capture', $$ledger_reserve('ovg-fp', 100, '1 hour', 'p1', on_expire => 'capture')$$);
SELECT 'p2 again' AS label, * FROM pg_temp.call('p2 again', $$ledger_reserve('ovg-fp', 100, '1 hour', 'p2', on_expire => 'capture')$$);
SELECT 'p2 as refund' AS label, * FROM pg_temp.call('p2 as refund', $$ledger_reserve('ovg-fp', 100, '1 hour', 'p2')$$);
SELECT pg_temp.state() = :'before' AS nothing_written;
SELECT (SELECT reservation_id FROM calls WHERE label = 'p1 again') = pg_temp.rid('p1') AS p1_same_hold,
       (SELECT reservation_id FROM calls WHERE label = 'p2 again') = pg_temp.rid('p2') AS p2_same_hold;
-- The same for allow_overage at settle (the default is false).
SELECT 's1' AS label, * FROM pg_temp.call('s1', $$ledger_settle('ovg-fp', pg_temp.rid('p1'), 80, 's1')$$);
SELECT 's2' AS label, * FROM pg_temp.call('s2', $$ledger_settle('ovg-fp', pg_temp.rid('p2'), 120, 's2', allow_overage => true)$$);
SELECT pg_temp.state() AS before \gset
SELECT 's1 again' AS label, * FROM pg_temp.call('s1 again', $$ledger_settle('ovg-fp', pg_temp.rid('p1'), 80, 's1', NULL, false)$$);
SELECT 's1 with overage' AS label, * FROM pg_temp.call('s1 with overage', $$ledger_settle('ovg-fp', pg_temp.rid('p1'), 80, 's1', allow_overage => true)$$);
SELECT 's2 again' AS label, * FROM pg_temp.call('s2 again', $$ledger_settle('ovg-fp', pg_temp.rid('p2'), 120, 's2', allow_overage => true)$$);
SELECT 's2 without overage' AS label, * FROM pg_temp.call('s2 without overage', $$ledger_settle('ovg-fp', pg_temp.rid('p2'), 120, 's2')$$);
SELECT pg_temp.state() = :'before' AS nothing_written;
-- on_expire is refund or capture.
SELECT label, e.code FROM (VALUES
    ('keep', $$SELECT ledger_reserve('ovg-fp', 1, '1 hour', 'p3', on_expire => 'keep')$$),
    ('empty', $$SELECT ledger_reserve('ovg-fp', 1, '1 hour', 'p3', on_expire => '')$$)
  ) AS t(label, q), pg_temp.error_of(q) e;
SELECT pg_temp.state() = :'before' AS nothing_written;

-- ---------------------------------------------------------------- on_expire => 'capture'

-- x1 captures 30 on expiry, x2 refunds 20, x3 (an hour) lives on.
SELECT wallet_id FROM ledger_create_wallet('ovg-exp');
SELECT result FROM pg_temp.call('ovg-exp fund', $$ledger_credit('ovg-exp', 100, 'fund')$$);
SELECT 'x1' AS label, * FROM pg_temp.call('x1', $$ledger_reserve('ovg-exp', 30, '10 minutes', 'x1', on_expire => 'capture')$$);
SELECT 'x2' AS label, * FROM pg_temp.call('x2', $$ledger_reserve('ovg-exp', 20, '10 minutes', 'x2')$$);
SELECT 'x3' AS label, * FROM pg_temp.call('x3', $$ledger_reserve('ovg-exp', 10, '1 hour', 'x3', on_expire => 'capture')$$);
SELECT h.* FROM unnest(ARRAY['x1', 'x2', 'x3']) l, pg_temp.hold(l) h;
SELECT c.label, r.capture_on_expire FROM calls c JOIN ledger.reservations r USING (reservation_id)
 WHERE c.label IN ('x1', 'x2', 'x3') ORDER BY c.label;
-- 11 minutes on, before any sweep: the lapsed holds no longer count as held;
-- available is 100 - 30 captured - 10 held.
SET baseledger.clock_offset = '11min';
SELECT available, active_reservations FROM ledger_balance('ovg-exp');
SELECT h.hold, h.state FROM unnest(ARRAY['x1', 'x2', 'x3']) l, pg_temp.hold(l) h;
-- The next write first writes x1's expire event, which takes 30 from the
-- balance, and x2's, which releases 20; then its own.
SELECT 'x4' AS label, * FROM pg_temp.call('x4', $$ledger_debit('ovg-exp', 5, 'x4')$$);
SELECT * FROM pg_temp.hist('ovg-exp');
SELECT h.* FROM unnest(ARRAY['x1', 'x2', 'x3']) l, pg_temp.hold(l) h;
SELECT * FROM pg_temp.bal('ovg-exp');
SELECT e.code, e.message FROM pg_temp.error_of(
  $$SELECT ledger_settle('ovg-exp', pg_temp.rid('x1'), 30, 'x1 settle')$$) e;

-- In a tree, by the sweep: y1 captures 40 at ovg-tree/a and at ovg-tree.
SELECT 'y1' AS label, * FROM pg_temp.call('y1', $$ledger_reserve('ovg-tree/a', 40, '10 minutes', 'y1', on_expire => 'capture')$$);
SELECT * FROM pg_temp.bal('ovg-tree', 'ovg-tree/a');
SET baseledger.clock_offset = '22min';
SELECT available, active_reservations FROM ledger_balance('ovg-tree');
SELECT last_seq AS tree_seq FROM ledger_balance('ovg-tree') \gset
SELECT ledger_expire() AS expired;
SELECT * FROM pg_temp.hist('ovg-tree', :tree_seq);
SELECT * FROM pg_temp.hist('ovg-tree/a', 2);
SELECT * FROM pg_temp.hold('y1');
SELECT * FROM pg_temp.bal('ovg-tree', 'ovg-tree/a');

-- Batches take no on_expire: their holds refund.
SELECT ordinal, sqlstate, kind, amount FROM ledger_reserve_batch(ARRAY['ovg-exp'], ARRAY[1]::bigint[],
  ARRAY['1 hour']::interval[], ARRAY['batch-1']);
SELECT r.capture_on_expire FROM ledger.reservations r JOIN ledger.events e USING (wallet_id, reservation_id)
 WHERE e.wallet_id = 'ovg-exp' AND e.idempotency_key = 'batch-1';

SELECT * FROM ledger_verify();
RESET baseledger.clock_offset;
RESET baseledger.timezone;
