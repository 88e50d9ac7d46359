-- Period limits, concurrency caps and credit lines. Limits are aligned to
-- calendar periods (minute, hour, day, week from Monday, month) in
-- baseledger.timezone; time is driven with baseledger.clock_offset to a few
-- seconds around a real calendar boundary, never by sleeping. A reserve
-- counts its held amount and one request in the period of its admission, a
-- debit its amount and one request; a settle replaces the held amount with
-- the captured one in the hold's period, a cancel or a refunding expiry gives
-- the amount back, a capturing expiry keeps it. Refusals: LB008 for a limit,
-- LB001 for funds, each naming the wallet and the figures; at each level,
-- root first, funds before limits. Overdraft lets available go down to
-- minus the credit line.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS baseledger CASCADE;
CREATE EXTENSION baseledger;
RESET client_min_messages;
SET search_path = ledger, public;
-- The ledger's clock jumps around calendar boundaries here, in the past as
-- well as in the future: the pg_cron sweep, on the real clock, is off while
-- this file runs (the next CREATE EXTENSION schedules it again).
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
-- A wallet_policy, one row per limit (in period order), or one row without
-- limit when it has none.
CREATE FUNCTION pg_temp.show(p ledger.wallet_policy)
  RETURNS TABLE (wallet_id text, capped boolean, overdraft bigint, max_active integer,
                 period text, max_amount bigint, max_requests bigint, used_amount bigint,
                 used_requests bigint)
  LANGUAGE sql AS $$
  SELECT p.wallet_id, p.capped, p.overdraft, p.max_active, l->>'period',
         (l->>'max_amount')::bigint, (l->>'max_requests')::bigint,
         (l->>'used_amount')::bigint, (l->>'used_requests')::bigint
    FROM (SELECT 1) AS one
    LEFT JOIN LATERAL jsonb_array_elements(coalesce(p.limits, '[]')) AS l ON true
   ORDER BY array_position(ARRAY['minute', 'hour', 'day', 'week', 'month'], l->>'period')
$$;
CREATE FUNCTION pg_temp.pol(w text)
  RETURNS TABLE (wallet_id text, capped boolean, overdraft bigint, max_active integer,
                 period text, max_amount bigint, max_requests bigint, used_amount bigint,
                 used_requests bigint)
  LANGUAGE sql AS $$
  SELECT s.* FROM ledger.ledger_policy(w) p, pg_temp.show(p) s
$$;
-- Balances of some wallets, in the order given, without the as_of time.
CREATE FUNCTION pg_temp.bal(VARIADIC ids text[])
  RETURNS TABLE (wallet_id text, balance bigint, reserved bigint, available bigint,
                 active_reservations integer, last_seq bigint)
  LANGUAGE sql AS $$
  SELECT b.wallet_id, b.balance, b.reserved, b.available, b.active_reservations, b.last_seq
    FROM unnest(ids) WITH ORDINALITY AS w(id, n), ledger.ledger_balance(w.id) b ORDER BY w.n
$$;
-- The ledger's clock: the calendar boundary of a period nearest to now in a
-- time zone is remembered, and the clock set to that boundary plus an offset.
CREATE TEMP TABLE boundary (period text, tz text, at timestamptz);
CREATE FUNCTION pg_temp.set_boundary(p text, tz text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  now timestamptz := clock_timestamp();
  prev timestamptz := date_trunc(p, now, tz);
  next timestamptz := ((prev AT TIME ZONE tz) + ('1 ' || p)::interval) AT TIME ZONE tz;
BEGIN
  DELETE FROM pg_temp.boundary;
  INSERT INTO pg_temp.boundary
    VALUES (p, tz, CASE WHEN next - now < now - prev THEN next ELSE prev END);
  RETURN format('%s boundary in %s', p, tz);
END $$;
CREATE FUNCTION pg_temp.b() RETURNS timestamptz LANGUAGE sql AS $$
  SELECT at FROM pg_temp.boundary
$$;
CREATE FUNCTION pg_temp.clock(off interval) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  PERFORM set_config('baseledger.clock_offset',
                     round(extract(epoch FROM pg_temp.b() + off - clock_timestamp()) * 1000)::bigint::text,
                     false);
  RETURN format('%s boundary %s', (SELECT period FROM pg_temp.boundary),
                CASE WHEN off < '0' THEN '- ' || (-off)::text ELSE '+ ' || off::text END);
END $$;
-- Where a wallet's clock reads now, relative to the boundary.
CREATE FUNCTION pg_temp.side(w text) RETURNS text LANGUAGE sql AS $$
  SELECT CASE WHEN b.as_of < pg_temp.b() THEN 'before' ELSE 'after' END
    FROM ledger.ledger_balance(w) b
$$;

-- ---------------------------------------------------------------- the policy functions

SELECT wallet_id FROM ledger_create_wallet('lim');
SELECT result FROM pg_temp.call('lim fund', $$ledger_credit('lim', 100, 'fund')$$);
-- A wallet without policy: capped, no credit line, no cap, no limit.
SELECT p.wallet_id, p.capped, p.overdraft, p.max_active,
       coalesce(jsonb_array_length(p.limits), 0) AS limits
  FROM ledger_policy('lim') p;
-- Bad input: 22023 (invalid value), 22004 (NULL required argument), LB002.
SELECT pg_temp.state() AS before \gset
SELECT label, e.code FROM (VALUES
    ('set_limit: period year', $$SELECT ledger_set_limit('lim', 'year', 1, NULL)$$),
    ('set_limit: period empty', $$SELECT ledger_set_limit('lim', '', 1, NULL)$$),
    ('set_limit: max_amount -1', $$SELECT ledger_set_limit('lim', 'day', -1, NULL)$$),
    ('set_limit: max_requests -1', $$SELECT ledger_set_limit('lim', 'day', NULL, -1)$$),
    ('set_limit: NULL period', $$SELECT ledger_set_limit('lim', NULL, 1, NULL)$$),
    ('set_limit: NULL wallet', $$SELECT ledger_set_limit(NULL, 'day', 1, NULL)$$),
    ('set_limit: unknown wallet', $$SELECT ledger_set_limit('lim-none', 'day', 1, NULL)$$),
    ('set_concurrency: -1', $$SELECT ledger_set_concurrency('lim', -1)$$),
    ('set_concurrency: NULL wallet', $$SELECT ledger_set_concurrency(NULL, 1)$$),
    ('set_concurrency: unknown wallet', $$SELECT ledger_set_concurrency('lim-none', 1)$$),
    ('set_overdraft: -1', $$SELECT ledger_set_overdraft('lim', -1)$$),
    ('set_overdraft: NULL amount', $$SELECT ledger_set_overdraft('lim', NULL)$$),
    ('set_overdraft: NULL wallet', $$SELECT ledger_set_overdraft(NULL, 1)$$),
    ('set_overdraft: unknown wallet', $$SELECT ledger_set_overdraft('lim-none', 1)$$),
    ('policy: NULL wallet', $$SELECT ledger_policy(NULL)$$),
    ('policy: unknown wallet', $$SELECT ledger_policy('lim-none')$$),
    ('timezone: unknown zone', $$SET baseledger.timezone = 'Mars/Olympus_Mons'$$)
  ) AS t(label, q), pg_temp.error_of(q) e;
SELECT pg_temp.state() = :'before' AS nothing_written;
SHOW baseledger.timezone;

-- Each setter returns the policy; one limit per period, both bounds NULL
-- removes it. None of them writes an event.
SELECT count(*) AS events FROM ledger.events \gset
SELECT s.* FROM ledger_set_limit('lim', 'day', 100, NULL) p, pg_temp.show(p) s;
SELECT s.* FROM ledger_set_limit('lim', 'minute', NULL, 10) p, pg_temp.show(p) s;
SELECT s.* FROM ledger_set_limit('lim', 'day', 200, 5) p, pg_temp.show(p) s;
SELECT s.* FROM ledger_set_limit('lim', 'minute', NULL, NULL) p, pg_temp.show(p) s;
SELECT s.* FROM ledger_set_concurrency('lim', 4) p, pg_temp.show(p) s;
SELECT s.* FROM ledger_set_overdraft('lim', 25) p, pg_temp.show(p) s;
SELECT s.* FROM pg_temp.pol('lim') s;
-- The policy is a value like any other: passed on to a function, read twice.
SELECT s.* FROM pg_temp.show(ledger_policy('lim')) s;
SELECT (ledger_policy('lim')).limits = (ledger_policy('lim')).limits AS same_limits;
SELECT s.* FROM ledger_set_concurrency('lim', NULL) p, pg_temp.show(p) s;
SELECT s.* FROM ledger_set_overdraft('lim', 0) p, pg_temp.show(p) s;
SELECT s.* FROM ledger_set_limit('lim', 'day', NULL, NULL) p, pg_temp.show(p) s;
SELECT count(*) - :events AS events_written FROM ledger.events;
-- A limit of 0 admits nothing.
SELECT s.period, s.max_amount FROM ledger_set_limit('lim', 'hour', 0, NULL) p, pg_temp.show(p) s;
SELECT * FROM pg_temp.call('lim 1', $$ledger_debit('lim', 1, 'lim-1')$$);
SELECT s.period FROM ledger_set_limit('lim', 'hour', NULL, NULL) p, pg_temp.show(p) s;
SELECT * FROM pg_temp.call('lim 1', $$ledger_debit('lim', 1, 'lim-1')$$);

-- ---------------------------------------------------------------- a day, in UTC

SET baseledger.timezone = 'UTC';
SELECT pg_temp.set_boundary('day', 'UTC');
SELECT extract(hour FROM pg_temp.b() AT TIME ZONE 'UTC') AS utc_hour,
       extract(minute FROM pg_temp.b() AT TIME ZONE 'UTC') AS utc_minute;
SELECT pg_temp.clock('-30 seconds');
SELECT wallet_id FROM ledger_create_wallet('lim-day');
SELECT result FROM pg_temp.call('day fund', $$ledger_credit('lim-day', 10000, 'fund')$$);
SELECT pg_temp.side('lim-day');
SELECT s.* FROM ledger_set_limit('lim-day', 'day', 100, NULL) p, pg_temp.show(p) s;
SELECT 'd1' AS label, * FROM pg_temp.call('d1', $$ledger_debit('lim-day', 60, 'd1')$$);
SELECT 'h1' AS label, * FROM pg_temp.call('h1', $$ledger_reserve('lim-day', 30, '1 hour', 'h1')$$);
-- 90 of 100 used: 20 more is refused, 10 more fits exactly, then nothing.
SELECT pg_temp.state() AS before \gset
SELECT 'h2' AS label, * FROM pg_temp.call('h2', $$ledger_reserve('lim-day', 20, '1 hour', 'h2')$$);
SELECT pg_temp.state() = :'before' AS nothing_written;
SELECT 'h3' AS label, * FROM pg_temp.call('h3', $$ledger_reserve('lim-day', 10, '1 hour', 'h3')$$);
SELECT 'd2' AS label, * FROM pg_temp.call('d2', $$ledger_debit('lim-day', 1, 'd2')$$);
SELECT s.* FROM pg_temp.pol('lim-day') s;
-- 30 seconds after midnight: a new day, nothing used yet.
SELECT pg_temp.clock('30 seconds');
SELECT pg_temp.side('lim-day');
SELECT s.* FROM pg_temp.pol('lim-day') s;
-- The settle of h1 (30 held, 25 captured) and the cancel of h3 adjust the
-- day they were admitted in, not this one.
SELECT 's1' AS label, * FROM pg_temp.call('s1', $$ledger_settle('lim-day', pg_temp.rid('h1'), 25, 's1')$$);
SELECT 'c3' AS label, * FROM pg_temp.call('c3', $$ledger_cancel('lim-day', pg_temp.rid('h3'), 'c3')$$);
SELECT s.* FROM pg_temp.pol('lim-day') s;
SELECT 'd3' AS label, * FROM pg_temp.call('d3', $$ledger_debit('lim-day', 100, 'd3')$$);
SELECT 'd4' AS label, * FROM pg_temp.call('d4', $$ledger_debit('lim-day', 1, 'd4')$$);
SELECT s.* FROM pg_temp.pol('lim-day') s;
-- Read from 10 seconds before midnight, the previous day has 60 + 25 + 0
-- used, in its 3 requests.
SELECT pg_temp.clock('-10 seconds');
SELECT s.* FROM pg_temp.pol('lim-day') s;

-- ---------------------------------------------------------------- a day, in Asia/Kolkata

-- Midnight in Kolkata (UTC+05:30) is at 18:30 UTC.
SET baseledger.timezone = 'Asia/Kolkata';
SHOW baseledger.timezone;
SELECT pg_temp.set_boundary('day', 'Asia/Kolkata');
SELECT extract(hour FROM pg_temp.b() AT TIME ZONE 'UTC') AS utc_hour,
       extract(minute FROM pg_temp.b() AT TIME ZONE 'UTC') AS utc_minute;
SELECT pg_temp.clock('-30 seconds');
SELECT wallet_id FROM ledger_create_wallet('lim-tz');
SELECT result FROM pg_temp.call('tz fund', $$ledger_credit('lim-tz', 1000, 'fund')$$);
SELECT s.period, s.max_amount FROM ledger_set_limit('lim-tz', 'day', 50, NULL) p, pg_temp.show(p) s;
SELECT 'z1' AS label, * FROM pg_temp.call('z1', $$ledger_debit('lim-tz', 50, 'z1')$$);
SELECT 'z2' AS label, * FROM pg_temp.call('z2', $$ledger_debit('lim-tz', 1, 'z2')$$);
SELECT pg_temp.clock('30 seconds');
SELECT 'z3' AS label, * FROM pg_temp.call('z3', $$ledger_debit('lim-tz', 50, 'z3')$$);
SELECT s.* FROM pg_temp.pol('lim-tz') s;

-- ---------------------------------------------------------------- an hour, in Asia/Kolkata

-- Kolkata's hours start at half past the UTC hour. Two bounds in one limit:
-- 40 and 2 requests an hour.
SELECT pg_temp.set_boundary('hour', 'Asia/Kolkata');
SELECT extract(minute FROM pg_temp.b() AT TIME ZONE 'UTC') AS utc_minute;
SELECT pg_temp.clock('-30 seconds');
SELECT wallet_id FROM ledger_create_wallet('lim-hour');
SELECT result FROM pg_temp.call('hour fund', $$ledger_credit('lim-hour', 1000, 'fund')$$);
SELECT s.* FROM ledger_set_limit('lim-hour', 'hour', 40, 2) p, pg_temp.show(p) s;
SELECT 'n1' AS label, * FROM pg_temp.call('n1', $$ledger_debit('lim-hour', 10, 'n1')$$);
SELECT 'n2' AS label, * FROM pg_temp.call('n2', $$ledger_debit('lim-hour', 10, 'n2')$$);
SELECT 'n3' AS label, * FROM pg_temp.call('n3', $$ledger_debit('lim-hour', 1, 'n3')$$);
SELECT pg_temp.clock('30 seconds');
SELECT 'n4' AS label, * FROM pg_temp.call('n4', $$ledger_debit('lim-hour', 40, 'n4')$$);
SELECT 'n5' AS label, * FROM pg_temp.call('n5', $$ledger_debit('lim-hour', 1, 'n5')$$);
SELECT s.* FROM pg_temp.pol('lim-hour') s;

-- ---------------------------------------------------------------- a week, from Monday, in UTC

SET baseledger.timezone = 'UTC';
SELECT pg_temp.set_boundary('week', 'UTC');
SELECT extract(isodow FROM pg_temp.b() AT TIME ZONE 'UTC') AS iso_day_of_week,
       extract(hour FROM pg_temp.b() AT TIME ZONE 'UTC') AS utc_hour;
SELECT pg_temp.clock('-30 seconds');
SELECT wallet_id FROM ledger_create_wallet('lim-week');
SELECT result FROM pg_temp.call('week fund', $$ledger_credit('lim-week', 10000, 'fund')$$);
SELECT s.period, s.max_amount FROM ledger_set_limit('lim-week', 'week', 500, NULL) p, pg_temp.show(p) s;
SELECT 'w1' AS label, * FROM pg_temp.call('w1', $$ledger_debit('lim-week', 500, 'w1')$$);
SELECT 'w2' AS label, * FROM pg_temp.call('w2', $$ledger_debit('lim-week', 1, 'w2')$$);
SELECT pg_temp.clock('30 seconds');
SELECT 'w3' AS label, * FROM pg_temp.call('w3', $$ledger_debit('lim-week', 500, 'w3')$$);
SELECT s.* FROM pg_temp.pol('lim-week') s;

-- ---------------------------------------------------------------- a month, in UTC

SELECT pg_temp.set_boundary('month', 'UTC');
SELECT extract(day FROM pg_temp.b() AT TIME ZONE 'UTC') AS day_of_month,
       extract(hour FROM pg_temp.b() AT TIME ZONE 'UTC') AS utc_hour;
SELECT pg_temp.clock('-30 seconds');
SELECT wallet_id FROM ledger_create_wallet('lim-month');
SELECT result FROM pg_temp.call('month fund', $$ledger_credit('lim-month', 10000, 'fund')$$);
SELECT s.period, s.max_amount FROM ledger_set_limit('lim-month', 'month', 1000, NULL) p, pg_temp.show(p) s;
SELECT 'm1' AS label, * FROM pg_temp.call('m1', $$ledger_debit('lim-month', 600, 'm1')$$);
SELECT 'm2' AS label, * FROM pg_temp.call('m2', $$ledger_reserve('lim-month', 400, '1 hour', 'm2')$$);
SELECT 'm3' AS label, * FROM pg_temp.call('m3', $$ledger_debit('lim-month', 1, 'm3')$$);
SELECT pg_temp.clock('30 seconds');
SELECT 'm4' AS label, * FROM pg_temp.call('m4', $$ledger_debit('lim-month', 1000, 'm4')$$);
SELECT 'm5' AS label, * FROM pg_temp.call('m5', $$ledger_debit('lim-month', 1, 'm5')$$);
SELECT s.* FROM pg_temp.pol('lim-month') s;
SELECT 'm2 settle' AS label, * FROM pg_temp.call('m2 settle', $$ledger_settle('lim-month', pg_temp.rid('m2'), 400, 'm2 settle')$$);
SELECT s.* FROM pg_temp.pol('lim-month') s;

-- ---------------------------------------------------------------- requests per minute

-- 3 requests a minute, no amount bound. Credits are not requests, nor are
-- settles and cancels (which give nothing back to the count); a refused call
-- is not admitted and does not count.
SELECT pg_temp.set_boundary('minute', 'UTC');
SELECT pg_temp.clock('-25 seconds');
SELECT wallet_id FROM ledger_create_wallet('lim-rpm');
SELECT result FROM pg_temp.call('rpm fund', $$ledger_credit('lim-rpm', 1000, 'fund')$$);
SELECT s.* FROM ledger_set_limit('lim-rpm', 'minute', NULL, 3) p, pg_temp.show(p) s;
SELECT 'q0' AS label, * FROM pg_temp.call('q0', $$ledger_reserve('lim-rpm', 5000, '1 hour', 'q0')$$);
SELECT 'q1' AS label, * FROM pg_temp.call('q1', $$ledger_reserve('lim-rpm', 10, '1 hour', 'q1')$$);
SELECT 'q2' AS label, * FROM pg_temp.call('q2', $$ledger_debit('lim-rpm', 10, 'q2')$$);
SELECT 'top-up' AS label, * FROM pg_temp.call('rpm top-up', $$ledger_credit('lim-rpm', 5, 'top-up')$$);
SELECT 'q3' AS label, * FROM pg_temp.call('q3', $$ledger_reserve('lim-rpm', 10, '1 hour', 'q3')$$);
SELECT pg_temp.state() AS before \gset
SELECT 'q4' AS label, * FROM pg_temp.call('q4', $$ledger_debit('lim-rpm', 1, 'q4')$$);
SELECT pg_temp.state() = :'before' AS nothing_written;
SELECT 'q1 cancel' AS label, * FROM pg_temp.call('q1 cancel', $$ledger_cancel('lim-rpm', pg_temp.rid('q1'), 'q1 cancel')$$);
SELECT 'q3 settle' AS label, * FROM pg_temp.call('q3 settle', $$ledger_settle('lim-rpm', pg_temp.rid('q3'), 5, 'q3 settle')$$);
SELECT 'q5' AS label, * FROM pg_temp.call('q5', $$ledger_reserve('lim-rpm', 1, '1 hour', 'q5')$$);
-- A retry of an admitted call is a replay, not a new request.
SELECT 'q2 again' AS label, * FROM pg_temp.call('q2 again', $$ledger_debit('lim-rpm', 10, 'q2')$$);
SELECT s.* FROM pg_temp.pol('lim-rpm') s;
-- The next minute admits 3 more.
SELECT pg_temp.clock('5 seconds');
SELECT s.* FROM pg_temp.pol('lim-rpm') s;
SELECT 'q6' AS label, * FROM pg_temp.call('q6', $$ledger_reserve('lim-rpm', 1, '1 hour', 'q6')$$);
SELECT 'q6 cancel' AS label, * FROM pg_temp.call('q6 cancel', $$ledger_cancel('lim-rpm', pg_temp.rid('q6'), 'q6 cancel')$$);
SELECT s.* FROM pg_temp.pol('lim-rpm') s;

-- ---------------------------------------------------------------- give-back, settle, expiry

-- An hour into a day. A limit added mid-period starts counting at zero: the
-- hold g0 made before it is not counted, and its cancel does not take the
-- count below zero.
SELECT pg_temp.set_boundary('day', 'UTC');
SELECT pg_temp.clock('1 hour');
SELECT wallet_id FROM ledger_create_wallet('lim-give');
SELECT result FROM pg_temp.call('give fund', $$ledger_credit('lim-give', 1000, 'fund')$$);
SELECT 'g0' AS label, * FROM pg_temp.call('g0', $$ledger_reserve('lim-give', 50, '1 hour', 'g0')$$);
SELECT s.period, s.max_amount, s.used_amount, s.used_requests
  FROM ledger_set_limit('lim-give', 'day', 100, NULL) p, pg_temp.show(p) s;
SELECT 'g0 cancel' AS label, * FROM pg_temp.call('g0 cancel', $$ledger_cancel('lim-give', pg_temp.rid('g0'), 'g0 cancel')$$);
SELECT s.period, s.used_amount, s.used_requests FROM pg_temp.pol('lim-give') s;
-- Holds count when admitted; a cancel gives the amount back; a settle
-- replaces the held amount with the captured one.
SELECT 'g1' AS label, * FROM pg_temp.call('g1', $$ledger_reserve('lim-give', 40, '10 minutes', 'g1')$$);
SELECT 'g2' AS label, * FROM pg_temp.call('g2', $$ledger_reserve('lim-give', 50, '1 hour', 'g2')$$);
SELECT s.period, s.used_amount, s.used_requests FROM pg_temp.pol('lim-give') s;
SELECT 'g2 cancel' AS label, * FROM pg_temp.call('g2 cancel', $$ledger_cancel('lim-give', pg_temp.rid('g2'), 'g2 cancel')$$);
SELECT s.period, s.used_amount, s.used_requests FROM pg_temp.pol('lim-give') s;
SELECT 'g3' AS label, * FROM pg_temp.call('g3', $$ledger_reserve('lim-give', 60, '1 hour', 'g3')$$);
SELECT 'g5' AS label, * FROM pg_temp.call('g5', $$ledger_reserve('lim-give', 1, '1 hour', 'g5')$$);
SELECT 'g3 settle' AS label, * FROM pg_temp.call('g3 settle', $$ledger_settle('lim-give', pg_temp.rid('g3'), 20, 'g3 settle')$$);
SELECT s.period, s.used_amount, s.used_requests FROM pg_temp.pol('lim-give') s;
-- g4 captures on expiry.
SELECT 'g4' AS label, * FROM pg_temp.call('g4', $$ledger_reserve('lim-give', 30, '10 minutes', 'g4', on_expire => 'capture')$$);
SELECT s.period, s.used_amount, s.used_requests FROM pg_temp.pol('lim-give') s;
-- 11 minutes on, g1 (refund) and g4 (capture) have lapsed; the sweep gives
-- g1's 40 back and keeps g4's 30.
SELECT pg_temp.clock('1 hour 11 minutes');
SELECT ledger_expire() AS expired;
SELECT c.label, r.state, r.amount, r.captured
  FROM calls c, ledger_reservation(c.wallet_id, c.reservation_id) r
 WHERE c.label IN ('g1', 'g4') ORDER BY c.label;
SELECT s.period, s.used_amount, s.used_requests FROM pg_temp.pol('lim-give') s;
SELECT * FROM pg_temp.bal('lim-give');
SELECT 'g6' AS label, * FROM pg_temp.call('g6', $$ledger_debit('lim-give', 50, 'g6')$$);
SELECT 'g7' AS label, * FROM pg_temp.call('g7', $$ledger_debit('lim-give', 1, 'g7')$$);

-- ---------------------------------------------------------------- limits in a tree

-- Root lim-tree: 1000, 100 a day. Team: capped, 50, 2 requests a minute.
-- Agent: uncapped. Checks run level by level from the root, funds before
-- limits at each level; the first refusal is reported.
SELECT pg_temp.set_boundary('minute', 'UTC');
SELECT pg_temp.clock('5 seconds');
SELECT wallet_id FROM ledger_create_wallet('lim-tree');
SELECT wallet_id FROM ledger_create_wallet('lim-tree/team');
SELECT wallet_id FROM ledger_create_wallet('lim-tree/team/agent', capped => false);
SELECT result FROM pg_temp.call('tree fund', $$ledger_credit('lim-tree', 1000, 'fund')$$);
SELECT result FROM pg_temp.call('team fund', $$ledger_credit('lim-tree/team', 50, 'fund')$$);
SELECT s.period, s.max_amount, s.max_requests FROM ledger_set_limit('lim-tree', 'day', 100, NULL) p, pg_temp.show(p) s;
SELECT s.period, s.max_amount, s.max_requests FROM ledger_set_limit('lim-tree/team', 'minute', NULL, 2) p, pg_temp.show(p) s;
SELECT pg_temp.state() AS before \gset
SELECT 't1 team funds' AS label, * FROM pg_temp.call('t1', $$ledger_debit('lim-tree/team/agent', 60, 't1')$$);
SELECT 't2 root limit before team funds' AS label, * FROM pg_temp.call('t2', $$ledger_debit('lim-tree/team/agent', 120, 't2')$$);
SELECT 't3 root funds before root limit' AS label, * FROM pg_temp.call('t3', $$ledger_reserve('lim-tree/team/agent', 1500, '1 hour', 't3')$$);
SELECT pg_temp.state() = :'before' AS nothing_written;
SELECT 't4' AS label, * FROM pg_temp.call('t4', $$ledger_debit('lim-tree/team/agent', 10, 't4')$$);
SELECT 't5' AS label, * FROM pg_temp.call('t5', $$ledger_debit('lim-tree/team/agent', 10, 't5')$$);
SELECT 't6 team requests' AS label, * FROM pg_temp.call('t6', $$ledger_debit('lim-tree/team/agent', 5, 't6')$$);
SELECT s.* FROM pg_temp.pol('lim-tree') s;
SELECT s.* FROM pg_temp.pol('lim-tree/team') s;
SELECT s.* FROM pg_temp.pol('lim-tree/team/agent') s;

-- ---------------------------------------------------------------- concurrency

-- Root lim-conc: at most 3 active holds in its subtree; uncapped child b at
-- most 2 of its own. Debits are not holds.
SELECT pg_temp.set_boundary('day', 'UTC');
SELECT pg_temp.clock('3 hours');
SELECT wallet_id FROM ledger_create_wallet('lim-conc');
SELECT wallet_id FROM ledger_create_wallet('lim-conc/a', capped => false);
SELECT wallet_id FROM ledger_create_wallet('lim-conc/b', capped => false);
SELECT result FROM pg_temp.call('conc fund', $$ledger_credit('lim-conc', 1000, 'fund')$$);
SELECT s.wallet_id, s.max_active FROM ledger_set_concurrency('lim-conc', 3) p, pg_temp.show(p) s;
SELECT s.wallet_id, s.capped, s.max_active FROM ledger_set_concurrency('lim-conc/b', 2) p, pg_temp.show(p) s;
SELECT 'k1' AS label, * FROM pg_temp.call('k1', $$ledger_reserve('lim-conc/a', 10, '1 hour', 'k1')$$);
SELECT 'k2' AS label, * FROM pg_temp.call('k2', $$ledger_reserve('lim-conc/b', 10, '1 hour', 'k2')$$);
SELECT 'k3' AS label, * FROM pg_temp.call('k3', $$ledger_reserve('lim-conc/b', 10, '1 hour', 'k3')$$);
SELECT pg_temp.state() AS before \gset
SELECT 'k4' AS label, * FROM pg_temp.call('k4', $$ledger_reserve('lim-conc/a', 10, '1 hour', 'k4')$$);
SELECT 'k5 root first' AS label, * FROM pg_temp.call('k5', $$ledger_reserve('lim-conc/b', 10, '1 hour', 'k5')$$);
SELECT pg_temp.state() = :'before' AS nothing_written;
SELECT 'k6 debit' AS label, * FROM pg_temp.call('k6', $$ledger_debit('lim-conc/a', 5, 'k6')$$);
SELECT 'k1 cancel' AS label, * FROM pg_temp.call('k1 cancel', $$ledger_cancel('lim-conc/a', pg_temp.rid('k1'), 'k1 cancel')$$);
SELECT 'k7 b' AS label, * FROM pg_temp.call('k7', $$ledger_reserve('lim-conc/b', 10, '1 hour', 'k7')$$);
-- A hold that lapses frees its place, before any sweep.
SELECT 'k8' AS label, * FROM pg_temp.call('k8', $$ledger_reserve('lim-conc/a', 10, '10 minutes', 'k8')$$);
SELECT 'k9' AS label, * FROM pg_temp.call('k9', $$ledger_reserve('lim-conc/a', 10, '1 hour', 'k9')$$);
SELECT pg_temp.clock('3 hours 11 minutes');
SELECT * FROM pg_temp.bal('lim-conc', 'lim-conc/a', 'lim-conc/b');
SELECT 'k10' AS label, * FROM pg_temp.call('k10', $$ledger_reserve('lim-conc/a', 10, '1 hour', 'k10')$$);
SELECT seq, kind, amount, balance, reserved FROM ledger_history('lim-conc/a') ORDER BY seq DESC LIMIT 2;
SELECT * FROM pg_temp.bal('lim-conc', 'lim-conc/a', 'lim-conc/b');
-- A cap of 0 admits no hold at all (a is checked after the root, which has
-- room once k10 is cancelled).
SELECT 'k10 cancel' AS label, * FROM pg_temp.call('k10 cancel', $$ledger_cancel('lim-conc/a', pg_temp.rid('k10'), 'k10 cancel')$$);
SELECT s.wallet_id, s.max_active FROM ledger_set_concurrency('lim-conc/a', 0) p, pg_temp.show(p) s;
SELECT 'k11' AS label, * FROM pg_temp.call('k11', $$ledger_reserve('lim-conc/a', 10, '1 hour', 'k11')$$);
SELECT 'k12 debit' AS label, * FROM pg_temp.call('k12', $$ledger_debit('lim-conc/a', 5, 'k12')$$);
-- NULL removes a cap.
SELECT s.wallet_id, s.max_active FROM ledger_set_concurrency('lim-conc/a', NULL) p, pg_temp.show(p) s;
SELECT s.wallet_id, s.max_active FROM ledger_set_concurrency('lim-conc', NULL) p, pg_temp.show(p) s;
SELECT 'k13' AS label, * FROM pg_temp.call('k13', $$ledger_reserve('lim-conc/a', 10, '1 hour', 'k13')$$);
SELECT * FROM pg_temp.bal('lim-conc', 'lim-conc/a', 'lim-conc/b');

-- ---------------------------------------------------------------- overdraft

SELECT wallet_id FROM ledger_create_wallet('lim-od');
SELECT result FROM pg_temp.call('od fund', $$ledger_credit('lim-od', 100, 'fund')$$);
SELECT 'o0 without credit line' AS label, * FROM pg_temp.call('o0', $$ledger_debit('lim-od', 101, 'o0')$$);
SELECT s.wallet_id, s.overdraft FROM ledger_set_overdraft('lim-od', 50) p, pg_temp.show(p) s;
-- Available goes down to -50 and no further.
SELECT 'o1' AS label, * FROM pg_temp.call('o1', $$ledger_debit('lim-od', 120, 'o1')$$);
SELECT 'o2' AS label, * FROM pg_temp.call('o2', $$ledger_reserve('lim-od', 30, '1 hour', 'o2')$$);
SELECT 'o3' AS label, * FROM pg_temp.call('o3', $$ledger_debit('lim-od', 1, 'o3')$$);
SELECT * FROM pg_temp.bal('lim-od');
-- The credit line cannot go below what the history already used (-50),
-- even once funds are back.
SELECT label, e.code FROM (VALUES
    ('to 40', $$SELECT ledger_set_overdraft('lim-od', 40)$$),
    ('to 49', $$SELECT ledger_set_overdraft('lim-od', 49)$$),
    ('to 0', $$SELECT ledger_set_overdraft('lim-od', 0)$$)
  ) AS t(label, q), pg_temp.error_of(q) e;
SELECT s.wallet_id, s.overdraft FROM ledger_set_overdraft('lim-od', 50) p, pg_temp.show(p) s;
SELECT s.wallet_id, s.overdraft FROM ledger_set_overdraft('lim-od', 60) p, pg_temp.show(p) s;
SELECT 'o4' AS label, * FROM pg_temp.call('o4', $$ledger_debit('lim-od', 10, 'o4')$$);
SELECT 'o2 cancel' AS label, * FROM pg_temp.call('o2 cancel', $$ledger_cancel('lim-od', pg_temp.rid('o2'), 'o2 cancel')$$);
SELECT 'o5 credit' AS label, * FROM pg_temp.call('o5', $$ledger_credit('lim-od', 200, 'o5')$$);
SELECT label, e.code FROM (VALUES
    ('to 50', $$SELECT ledger_set_overdraft('lim-od', 50)$$),
    ('to 0', $$SELECT ledger_set_overdraft('lim-od', 0)$$)
  ) AS t(label, q), pg_temp.error_of(q) e;
SELECT s.wallet_id, s.overdraft FROM pg_temp.pol('lim-od') s;
-- A team's credit line in a tree; an uncapped wallet has none (55000).
SELECT wallet_id FROM ledger_create_wallet('lim-od/team');
SELECT wallet_id FROM ledger_create_wallet('lim-od/team/agent', capped => false);
SELECT s.wallet_id, s.overdraft FROM ledger_set_overdraft('lim-od/team', 20) p, pg_temp.show(p) s;
SELECT e.code FROM pg_temp.error_of($$SELECT ledger_set_overdraft('lim-od/team/agent', 10)$$) e;
SELECT 'o6' AS label, * FROM pg_temp.call('o6', $$ledger_debit('lim-od/team/agent', 20, 'o6')$$);
SELECT 'o7' AS label, * FROM pg_temp.call('o7', $$ledger_debit('lim-od/team/agent', 1, 'o7')$$);
SELECT * FROM pg_temp.bal('lim-od', 'lim-od/team', 'lim-od/team/agent');

-- ---------------------------------------------------------------- consistency

SELECT * FROM ledger_verify();
RESET baseledger.clock_offset;
RESET baseledger.timezone;
