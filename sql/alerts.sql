-- Alerts: available_below (available < threshold) and period_used_pct
-- (used_amount * 100 >= threshold * max_amount of a period limit), set per
-- wallet and evaluated after every write that changes the wallet, including
-- writes in its subtree and the sweep. An armed alert whose condition holds
-- fires once and is disarmed; a later write that finds the condition false
-- re-arms it. Firing inserts a row in ledger.alerts and sends NOTIFY
-- baseledger_alerts with a JSON payload, at commit: a failed call, a rolled
-- back transaction and a replay fire nothing.
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
-- The alerts fired since the last call of new_alerts(), numbered from the
-- first alert of the file.
CREATE TEMP TABLE seen (last_id bigint);
INSERT INTO seen VALUES (0);
CREATE FUNCTION pg_temp.new_alerts()
  RETURNS TABLE (n bigint, wallet_id text, kind text, period text, threshold bigint, value bigint)
  LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY
    SELECT (SELECT count(*) FROM ledger.alerts b WHERE b.alert_id <= a.alert_id), a.wallet_id,
           a.kind, a.period, a.threshold, a.value
      FROM ledger.alerts a WHERE a.alert_id > (SELECT last_id FROM pg_temp.seen)
     ORDER BY a.alert_id;
  UPDATE pg_temp.seen SET last_id = coalesce((SELECT max(alert_id) FROM ledger.alerts), 0);
END $$;
-- The ledger's clock: an hour into the current UTC day, plus an offset.
SET baseledger.timezone = 'UTC';
CREATE TEMP TABLE day (start timestamptz);
INSERT INTO day SELECT date_trunc('day', clock_timestamp(), 'UTC');
CREATE FUNCTION pg_temp.clock(off interval) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  PERFORM set_config('baseledger.clock_offset',
    round(extract(epoch FROM (SELECT start FROM pg_temp.day) + interval '1 hour' + off
                             - clock_timestamp()) * 1000)::bigint::text, false);
  RETURN 'an hour into the day + ' || off::text;
END $$;
SELECT pg_temp.clock('0');

-- ---------------------------------------------------------------- the tree

-- alrt: 200. alrt/t: capped, 150, 100 a day. alrt/t/a and alrt/u: uncapped.
SELECT wallet_id FROM ledger_create_wallet('alrt');
SELECT wallet_id FROM ledger_create_wallet('alrt/t');
SELECT wallet_id FROM ledger_create_wallet('alrt/t/a', capped => false);
SELECT wallet_id FROM ledger_create_wallet('alrt/u', capped => false);
SELECT result FROM pg_temp.call('alrt fund', $$ledger_credit('alrt', 200, 'fund')$$);
SELECT result FROM pg_temp.call('alrt/t fund', $$ledger_credit('alrt/t', 150, 'fund')$$);
SELECT p.wallet_id, p.limits->0->>'period' AS period FROM ledger_set_limit('alrt/t', 'day', 100, NULL) p;
SELECT p.wallet_id, jsonb_array_length(p.limits) AS limits FROM ledger_set_limit('alrt/t', 'minute', NULL, 10) p;

-- ---------------------------------------------------------------- setting alerts
-- Bad input is 22023, a missing required period 22004 (as every NULL required
-- argument), and a period without an amount limit to take a percentage of is
-- 55000 (the wallet is not in the state the alert needs).

SELECT pg_temp.state() AS before \gset
SELECT label, e.code FROM (VALUES
    ('unknown kind', $$SELECT ledger_set_alert('alrt', 'balance_below', 10)$$),
    ('percentage without a period', $$SELECT ledger_set_alert('alrt/t', 'period_used_pct', 80)$$),
    ('percentage of an unknown period', $$SELECT ledger_set_alert('alrt/t', 'period_used_pct', 80, 'year')$$),
    ('percentage of a period without limit', $$SELECT ledger_set_alert('alrt/t', 'period_used_pct', 80, 'hour')$$),
    ('percentage of a limit without max_amount', $$SELECT ledger_set_alert('alrt/t', 'period_used_pct', 80, 'minute')$$),
    ('percentage 0', $$SELECT ledger_set_alert('alrt/t', 'period_used_pct', 0, 'day')$$),
    ('percentage 101', $$SELECT ledger_set_alert('alrt/t', 'period_used_pct', 101, 'day')$$),
    ('NULL wallet', $$SELECT ledger_set_alert(NULL, 'available_below', 10)$$),
    ('NULL kind', $$SELECT ledger_set_alert('alrt', NULL, 10)$$),
    ('unknown wallet', $$SELECT ledger_set_alert('alrt-none', 'available_below', 10)$$)
  ) AS t(label, q), pg_temp.error_of(q) e;
SELECT pg_temp.state() = :'before' AS nothing_written;
SELECT p.wallet_id, jsonb_array_length(p.limits) AS limits FROM ledger_set_limit('alrt/t', 'minute', NULL, NULL) p;
-- alrt: available below 100. alrt/t: 80% of its day limit used.
SELECT count(*) AS events FROM ledger.events \gset
SELECT ledger_set_alert('alrt', 'available_below', 100);
SELECT ledger_set_alert('alrt/t', 'period_used_pct', 80, 'day');
SELECT count(*) - :events AS events_written FROM ledger.events;
SELECT * FROM pg_temp.new_alerts();

-- ---------------------------------------------------------------- crossings

-- alrt available 150, alrt/t 50 of 100 used: nothing.
SELECT 'w1' AS label, * FROM pg_temp.call('w1', $$ledger_debit('alrt/t/a', 50, 'w1')$$);
SELECT * FROM pg_temp.new_alerts();
-- alrt/t 80 used: its alert fires once ...
SELECT 'w2' AS label, * FROM pg_temp.call('w2', $$ledger_reserve('alrt/t/a', 30, '1 hour', 'w2')$$);
SELECT * FROM pg_temp.new_alerts();
-- ... and not again while the condition holds (85 used).
SELECT 'w3' AS label, * FROM pg_temp.call('w3', $$ledger_debit('alrt/t/a', 5, 'w3')$$);
SELECT * FROM pg_temp.new_alerts();
-- A hold by alrt/u takes alrt's available to 95: alrt's alert fires.
SELECT 'w4' AS label, * FROM pg_temp.call('w4', $$ledger_reserve('alrt/u', 20, '10 minutes', 'w4')$$);
SELECT * FROM pg_temp.new_alerts();
SELECT 'w5' AS label, * FROM pg_temp.call('w5', $$ledger_debit('alrt/u', 5, 'w5')$$);
SELECT * FROM pg_temp.new_alerts();
-- A refused call fires nothing and changes nothing.
SELECT pg_temp.state() AS before \gset
SELECT 'refused' AS label, * FROM pg_temp.call('refused', $$ledger_debit('alrt/u', 1000, 'refused')$$);
SELECT pg_temp.state() = :'before' AS nothing_written;
SELECT * FROM pg_temp.new_alerts();
-- Cancelling w2 takes alrt back to 120 available and alrt/t to 55 used:
-- both alerts re-arm, nothing fires.
SELECT 'w6' AS label, * FROM pg_temp.call('w6', $$ledger_cancel('alrt/t/a', pg_temp.rid('w2'), 'w6')$$);
SELECT * FROM pg_temp.new_alerts();
-- A crossing in a transaction that rolls back leaves no alert, and the
-- alert stays armed ...
BEGIN;
SELECT 'w7' AS label, * FROM pg_temp.call('w7', $$ledger_debit('alrt/u', 30, 'w7')$$);
ROLLBACK;
SELECT * FROM pg_temp.new_alerts();
-- ... so the same crossing committed fires.
SELECT 'w8' AS label, * FROM pg_temp.call('w8', $$ledger_debit('alrt/u', 30, 'w8')$$);
SELECT * FROM pg_temp.new_alerts();
-- A replay is not a write.
SELECT 'w8 again' AS label, * FROM pg_temp.call('w8 again', $$ledger_debit('alrt/u', 30, 'w8')$$);
SELECT * FROM pg_temp.new_alerts();

-- ---------------------------------------------------------------- the sweep re-arms

-- 11 minutes on, w4 (20) has lapsed; the sweep releases it: alrt has 110
-- available and its alert re-arms ...
SELECT pg_temp.clock('11 minutes');
SELECT available FROM ledger_balance('alrt');
SELECT ledger_expire() AS expired;
SELECT * FROM pg_temp.new_alerts();
-- ... so the next crossing (95) fires. w9 captures on expiry.
SELECT 'w9' AS label, * FROM pg_temp.call('w9', $$ledger_reserve('alrt/t/a', 15, '10 minutes', 'w9', on_expire => 'capture')$$);
SELECT * FROM pg_temp.new_alerts();
-- alrt/t: 70, then 80 used with w10: its alert fires again (it was re-armed by w6).
SELECT 'w10' AS label, * FROM pg_temp.call('w10', $$ledger_reserve('alrt/t/a', 10, '10 minutes', 'w10')$$);
SELECT * FROM pg_temp.new_alerts();
-- 22 minutes on, w9 and w10 have lapsed. The sweep captures w9 (15 stays
-- used) and refunds w10 (70 used): alrt/t's alert re-arms; alrt (95
-- available) stays below its threshold and fires nothing.
SELECT pg_temp.clock('22 minutes');
SELECT ledger_expire() AS expired;
SELECT * FROM pg_temp.new_alerts();
SELECT l->>'period' AS period, l->'used_amount' AS used_amount
  FROM ledger_policy('alrt/t') p, jsonb_array_elements(p.limits) l;
SELECT available FROM ledger_balance('alrt');
SELECT 'w11' AS label, * FROM pg_temp.call('w11', $$ledger_debit('alrt/t/a', 10, 'w11')$$);
SELECT * FROM pg_temp.new_alerts();

-- ---------------------------------------------------------------- removing alerts

SELECT 'w12' AS label, * FROM pg_temp.call('w12', $$ledger_credit('alrt', 200, 'w12')$$);
SELECT ledger_set_alert('alrt', 'available_below', NULL);
SELECT ledger_set_alert('alrt/t', 'period_used_pct', NULL, 'day');
SELECT 'w13' AS label, * FROM pg_temp.call('w13', $$ledger_debit('alrt/u', 250, 'w13')$$);
SELECT 'w14' AS label, * FROM pg_temp.call('w14', $$ledger_debit('alrt/t/a', 20, 'w14')$$);
SELECT * FROM pg_temp.new_alerts();

-- ---------------------------------------------------------------- the table and ledger_alerts()

SELECT (SELECT count(*) FROM ledger.alerts b WHERE b.alert_id <= a.alert_id) AS n,
       wallet_id, kind, period, threshold, value, at IS NOT NULL AS has_time
  FROM ledger.alerts a ORDER BY alert_id;
-- The alerts at or under a wallet, and pages of all of them.
SELECT wallet_id, kind, period, threshold, value FROM ledger_alerts('alrt/t') ORDER BY alert_id;
SELECT count(*) AS alerts FROM ledger_alerts('alrt/t/a');
SELECT count(*) AS alerts FROM ledger_alerts();
SELECT alert_id AS second_id FROM ledger.alerts ORDER BY alert_id OFFSET 1 LIMIT 1 \gset
SELECT wallet_id, kind, value, alert_id > :second_id AS after_second
  FROM ledger_alerts(NULL, :second_id, 2) ORDER BY alert_id;
SELECT (SELECT count(*) FROM ledger_alerts()) = (SELECT count(*) FROM ledger.alerts)
       AND NOT EXISTS (SELECT alert_id, wallet_id, kind, period, threshold, value, at FROM ledger_alerts()
                       EXCEPT
                       SELECT alert_id, wallet_id, kind, period, threshold, value, at FROM ledger.alerts)
         AS same_rows_as_the_table;
-- Admin and auditor read the table; a client does not, but reads the alerts
-- of the wallets it may read through ledger_alerts().
SELECT r AS role, has_table_privilege(r, 'ledger.alerts', 'SELECT') AS can_select
  FROM unnest(ARRAY['baseledger_admin', 'baseledger_auditor', 'baseledger_client']) r;
SET ROLE baseledger_auditor;
SELECT count(*) AS alerts FROM ledger.alerts;
SELECT count(*) AS alerts FROM ledger_alerts();
RESET ROLE;
SELECT ledger_grant('baseledger_client', 'alrt/t', 'read');
SET ROLE baseledger_client;
SELECT count(*) AS alerts FROM ledger_alerts('alrt/t');
SELECT e.code FROM pg_temp.error_of($$SELECT * FROM ledger.ledger_alerts('alrt/u')$$) e;
SELECT e.code FROM pg_temp.error_of($$SELECT * FROM ledger.alerts$$) e;
RESET ROLE;
SELECT ledger_revoke('baseledger_client', 'alrt/t', 'read');

-- ---------------------------------------------------------------- NOTIFY baseledger_alerts

-- alrt/v: capped, 100, 100 a day, alerts at 50% used. alrt back to 200
-- available, alerts below 100.
SELECT wallet_id FROM ledger_create_wallet('alrt/v');
SELECT result FROM pg_temp.call('alrt/v fund', $$ledger_credit('alrt/v', 100, 'fund')$$);
SELECT p.wallet_id, p.limits->0->>'period' AS period FROM ledger_set_limit('alrt/v', 'day', 100, NULL) p;
SELECT 'n0' AS label, * FROM pg_temp.call('n0', $$ledger_credit('alrt', 185, 'n0')$$);
SELECT ledger_set_alert('alrt', 'available_below', 100);
SELECT ledger_set_alert('alrt/v', 'period_used_pct', 50, 'day');
-- This session listens; what psql prints (the steps, and the notifications
-- as they arrive) goes to a file, read back below.
SELECT coalesce(max(alert_id), 0) AS last_alert_id FROM ledger.alerts \gset
SELECT format('/tmp/baseledger-alerts-%s-%s.txt', pg_backend_pid(), floor(random() * 1e9)::bigint)
  AS notify_file \gset
\setenv BASELEDGER_NOTIFY_FILE :notify_file
LISTEN baseledger_alerts;
\o :notify_file
\pset format unaligned
\pset tuples_only on
-- alrt: 150 available, nothing; then 90: fires.
SELECT 'n1 debit 50' FROM ledger_debit('alrt/u', 50, 'n1');
SELECT 'n2 debit 60' FROM ledger_debit('alrt/u', 60, 'n2');
-- In a transaction: re-armed by a credit, fired by a debit, sent at commit.
BEGIN;
SELECT 'n3 credit 100' FROM ledger_credit('alrt', 100, 'n3');
SELECT 'n4 debit 100' FROM ledger_debit('alrt/u', 100, 'n4');
SELECT 'still in the transaction';
COMMIT;
SELECT 'committed';
-- Rolled back: nothing is sent.
BEGIN;
SELECT 'n5 credit 100' FROM ledger_credit('alrt', 100, 'n5');
SELECT 'n6 debit 100' FROM ledger_debit('alrt/u', 100, 'n6');
ROLLBACK;
SELECT 'rolled back';
-- alrt/v 50 used: its alert fires; alrt (40 available) is still disarmed.
SELECT 'n7 debit 50' FROM ledger_debit('alrt/v', 50, 'n7');
SELECT 'done';
\o
\pset format aligned
\pset tuples_only off
UNLISTEN baseledger_alerts;
CREATE TEMP TABLE notify_lines (n serial, line text);
\copy notify_lines (line) FROM PROGRAM 'cat "$BASELEDGER_NOTIFY_FILE"' WITH (FORMAT csv, DELIMITER E'\x01', QUOTE E'\x02')
\! rm -f "$BASELEDGER_NOTIFY_FILE"
CREATE TEMP VIEW notifications AS
  SELECT n, row_number() OVER (ORDER BY n) AS k,
         substring(line FROM '^Asynchronous notification "([^"]*)"') AS channel,
         substring(line FROM ' with payload "(.*)" received from server process with PID [0-9]+\.$') AS payload
    FROM notify_lines WHERE line LIKE 'Asynchronous notification %';
-- What psql printed, in order: the steps, and each notification (channel,
-- wallet, kind and value of its payload) when it arrived.
SELECT row_number() OVER (ORDER BY l.n) AS n,
       CASE WHEN p.k IS NULL THEN l.line
            ELSE format('notification on %s: %s %s %s', p.channel, p.payload::jsonb ->> 'wallet',
                        p.payload::jsonb ->> 'kind', p.payload::jsonb ->> 'value') END AS printed
  FROM notify_lines l LEFT JOIN notifications p USING (n)
 WHERE l.line <> '' ORDER BY l.n;
-- Each notification is the alert row of the same rank: its payload has the
-- row's wallet, kind, period, threshold, value and time.
SELECT k, channel,
       p.payload::jsonb ?& ARRAY['wallet', 'kind', 'period', 'threshold', 'value', 'at'] AS has_the_keys,
       jsonb_build_object('wallet', p.payload::jsonb -> 'wallet', 'kind', p.payload::jsonb -> 'kind',
                          'period', p.payload::jsonb -> 'period',
                          'threshold', p.payload::jsonb -> 'threshold',
                          'value', p.payload::jsonb -> 'value') AS payload,
       (p.payload::jsonb ->> 'at')::timestamptz = a.at AS same_time_as_the_row,
       (a.wallet_id, a.kind, a.period, a.threshold, a.value)
         IS NOT DISTINCT FROM
       (p.payload::jsonb ->> 'wallet', p.payload::jsonb ->> 'kind', p.payload::jsonb ->> 'period',
        (p.payload::jsonb ->> 'threshold')::bigint, (p.payload::jsonb ->> 'value')::bigint) AS same_as_the_row
  FROM notifications p
  FULL JOIN (SELECT row_number() OVER (ORDER BY alert_id) AS k, *
               FROM ledger.alerts WHERE alert_id > :last_alert_id) a USING (k)
 ORDER BY k;

SELECT * FROM ledger_verify();
RESET baseledger.clock_offset;
RESET baseledger.timezone;
