-- Expiry, the dead-man's switch: a hold stops counting the instant its
-- expires_at passes, before any sweep; each expired hold gets exactly one
-- expire event, from the next write on its wallet or from ledger_expire().
-- Then the pg_cron job that runs ledger_expire(), and a database without
-- pg_cron. The ledger's clock is moved with baseledger.clock_offset; one
-- case waits in real time.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS baseledger CASCADE;
CREATE EXTENSION baseledger;
RESET client_min_messages;
SET search_path = ledger, public;

-- Runs a statement and reports 'ok' or its SQLSTATE and message.
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
-- A wallet's balance without its as_of time.
CREATE FUNCTION pg_temp.bal(w text)
  RETURNS TABLE (wallet_id text, balance bigint, reserved bigint, available bigint,
                 active_reservations integer, last_seq bigint)
  LANGUAGE sql AS $$
  SELECT wallet_id, balance, reserved, available, active_reservations, last_seq
    FROM ledger.ledger_balance(w)
$$;
-- Every write's ledger_result, under a label; holds are named by the label
-- of their reserve.
CREATE TEMP TABLE calls (label text PRIMARY KEY, LIKE ledger.ledger_result);
\set shown 'label, seq, kind, amount, balance, reserved, available, expires_at - at AS ttl, replayed'
CREATE TEMP VIEW holds AS
  SELECT label AS hold, wallet_id, reservation_id FROM calls WHERE kind = 'reserve' AND NOT replayed;
CREATE FUNCTION pg_temp.rid(hold text) RETURNS uuid LANGUAGE sql AS $$
  SELECT reservation_id FROM pg_temp.holds WHERE hold = $1
$$;
-- What a reader sees of a hold now, and what storage says.
CREATE FUNCTION pg_temp.hold_state(hold text)
  RETURNS TABLE (hold text, state text, stored_state text, expire_events bigint)
  LANGUAGE sql AS $$
  SELECT h.hold, r.state, s.state::text,
         (SELECT count(*) FROM ledger.events e
           WHERE e.reservation_id = h.reservation_id AND e.kind = 'expire')
    FROM pg_temp.holds h
   CROSS JOIN ledger.ledger_reservation(h.wallet_id, h.reservation_id) r
    JOIN ledger.reservations s ON s.reservation_id = h.reservation_id
   WHERE h.hold = $1
$$;
CREATE FUNCTION pg_temp.expire_events() RETURNS bigint LANGUAGE sql AS $$
  SELECT count(*) FROM ledger.events WHERE kind = 'expire'
$$;

-- ---------------------------------------------------------------- holds that lapse

SELECT count(*) FROM ledger_create_wallet('exp-a');
SELECT count(*) FROM ledger_create_wallet('exp-b');
SELECT count(*) FROM ledger_create_wallet('exp-c');
SELECT count(*) FROM ledger_create_wallet('exp-d');
INSERT INTO calls SELECT 'a-fund', * FROM ledger_credit('exp-a', 1000, 'fund') RETURNING :shown;
INSERT INTO calls SELECT 'a1', * FROM ledger_reserve('exp-a', 300, '10 minutes', 'a1') RETURNING :shown;
INSERT INTO calls SELECT 'a2', * FROM ledger_reserve('exp-a', 200, '10 minutes', 'a2') RETURNING :shown;
INSERT INTO calls SELECT 'a3', * FROM ledger_reserve('exp-a', 100, '1 hour', 'a3') RETURNING :shown;
INSERT INTO calls SELECT 'b-fund', * FROM ledger_credit('exp-b', 100, 'fund') RETURNING :shown;
INSERT INTO calls SELECT 'b1', * FROM ledger_reserve('exp-b', 100, '10 minutes', 'b1') RETURNING :shown;
INSERT INTO calls SELECT 'c-fund', * FROM ledger_credit('exp-c', 100, 'fund') RETURNING :shown;
INSERT INTO calls SELECT 'c1', * FROM ledger_reserve('exp-c', 100, '10 minutes', 'c1') RETURNING :shown;
INSERT INTO calls SELECT 'd-fund', * FROM ledger_credit('exp-d', 100, 'fund') RETURNING :shown;
INSERT INTO calls SELECT 'd1', * FROM ledger_reserve('exp-d', 10, '10 minutes', 'd1') RETURNING :shown;
INSERT INTO calls SELECT 'd2', * FROM ledger_reserve('exp-d', 20, '10 minutes', 'd2') RETURNING :shown;
SELECT * FROM pg_temp.bal('exp-a');

-- Five minutes on, c1 gets a heartbeat: it now ends 10 minutes after it.
SET baseledger.clock_offset = '5min';
INSERT INTO calls SELECT 'c1-beat', * FROM ledger_extend('exp-c', pg_temp.rid('c1'), '10 minutes', 'beat')
  RETURNING :shown;
SELECT e.expires_at - r.expires_at > '4 minutes' AS moved_by_5_minutes
  FROM calls e, calls r WHERE e.label = 'c1-beat' AND r.label = 'c1';

-- 10 seconds before the first expiries everything still counts.
SET baseledger.clock_offset = '590s';
SELECT * FROM pg_temp.bal('exp-a');
SELECT * FROM pg_temp.hold_state('a1');

-- 10 minutes after the reserves, past their expires_at: the holds no longer
-- count, for balance and reservation reads alike, while storage still has
-- them active and no expire event exists yet.
SET baseledger.clock_offset = '10min';
SELECT * FROM pg_temp.bal('exp-a');
SELECT s.* FROM unnest(ARRAY['a1', 'a2', 'a3', 'b1', 'c1', 'd1', 'd2']) h, pg_temp.hold_state(h) s;
SELECT * FROM pg_temp.bal('exp-b');
SELECT * FROM pg_temp.bal('exp-c');
SELECT * FROM pg_temp.bal('exp-d');
SELECT pg_temp.expire_events() AS expire_events;

-- Settle, cancel and extend of a lapsed hold fail with LB005, and write
-- nothing (not even the expire event).
SELECT count(*) AS events FROM ledger.events \gset
SELECT label, pg_temp.try(q) AS result FROM (VALUES
  ('settle', $$SELECT ledger_settle('exp-b', pg_temp.rid('b1'), 100, 'k')$$),
  ('settle 0', $$SELECT ledger_settle('exp-b', pg_temp.rid('b1'), 0, 'k')$$),
  ('cancel', $$SELECT ledger_cancel('exp-b', pg_temp.rid('b1'), 'k')$$),
  ('extend', $$SELECT ledger_extend('exp-b', pg_temp.rid('b1'), '1 hour', 'k')$$)
) AS t(label, q);
-- A replayed call is not a write either.
INSERT INTO calls SELECT 'a-fund#2', * FROM ledger_credit('exp-a', 1000, 'fund') RETURNING :shown;
SELECT count(*) - :events AS events_written FROM ledger.events;

-- The next write on exp-a is a reserve of 900, which only fits because the
-- lapsed 300 and 200 no longer count. It first writes one expire event per
-- lapsed hold, in expiry order, then its own event.
INSERT INTO calls SELECT 'a4', * FROM ledger_reserve('exp-a', 900, '1 hour', 'a4') RETURNING :shown;
SELECT e.seq, e.kind, e.amount, h.hold, e.idempotency_key, e.balance, e.reserved, e.metadata
  FROM ledger_history('exp-a') e LEFT JOIN holds h USING (reservation_id) ORDER BY e.seq;
SELECT * FROM pg_temp.bal('exp-a');
SELECT s.* FROM unnest(ARRAY['a1', 'a2', 'a3', 'a4']) h, pg_temp.hold_state(h) s;
-- The expire events come no earlier than the holds' expires_at.
SELECT h.hold, e.at >= r.expires_at AS at_or_after_expiry
  FROM ledger.events e JOIN ledger.reservations r USING (wallet_id, reservation_id)
  JOIN holds h USING (reservation_id)
 WHERE e.kind = 'expire' ORDER BY h.hold;
-- Now closed by their expire events, they still refuse with LB005.
SELECT label, pg_temp.try(q) AS result FROM (VALUES
  ('settle a1', $$SELECT ledger_settle('exp-a', pg_temp.rid('a1'), 1, 'k')$$),
  ('cancel a2', $$SELECT ledger_cancel('exp-a', pg_temp.rid('a2'), 'k')$$),
  ('extend a1', $$SELECT ledger_extend('exp-a', pg_temp.rid('a1'), '1 hour', 'k')$$)
) AS t(label, q);

-- ledger_expire() finalizes the other lapsed holds (b1, d1 and d2; c1 was
-- extended), at most max_rows at a time, and returns how many.
SELECT ledger_expire(2) AS expired;
SELECT ledger_expire() AS expired;
SELECT count(*) AS events FROM ledger.events \gset
SELECT ledger_expire() AS expired;
SELECT count(*) - :events AS events_written FROM ledger.events;
SELECT s.* FROM unnest(ARRAY['b1', 'c1', 'd1', 'd2']) h, pg_temp.hold_state(h) s;
SELECT e.wallet_id, e.seq, e.kind, e.amount, h.hold, e.idempotency_key, e.balance, e.reserved
  FROM ledger.events e LEFT JOIN holds h USING (reservation_id)
 WHERE e.wallet_id IN ('exp-b', 'exp-d') ORDER BY e.wallet_id, e.seq;
SELECT * FROM pg_temp.bal('exp-b');
SELECT * FROM pg_temp.bal('exp-d');

-- The extended hold c1 lives on past its first expires_at ...
SET baseledger.clock_offset = '11min';
SELECT * FROM pg_temp.bal('exp-c');
SELECT * FROM pg_temp.hold_state('c1');
SELECT ledger_expire() AS expired;
-- ... until 10 minutes after its heartbeat.
SET baseledger.clock_offset = '15min';
SELECT * FROM pg_temp.bal('exp-c');
SELECT * FROM pg_temp.hold_state('c1');
SELECT pg_temp.try($$SELECT ledger_settle('exp-c', pg_temp.rid('c1'), 1, 'k')$$) AS settle;
SELECT ledger_expire() AS expired;
SELECT ledger_expire() AS expired;
SELECT seq, kind, amount, balance, reserved FROM ledger_history('exp-c');

-- Exactly one expire event per lapsed hold, none for the live ones.
SELECT h.hold, s.state,
       (SELECT count(*) FROM ledger.events e
         WHERE e.reservation_id = h.reservation_id AND e.kind = 'expire') AS expire_events
  FROM holds h JOIN ledger.reservations s USING (reservation_id) ORDER BY h.hold;
SELECT * FROM ledger_verify();
RESET baseledger.clock_offset;

-- ---------------------------------------------------------------- in real time

SELECT count(*) FROM ledger_create_wallet('exp-rt');
INSERT INTO calls SELECT 'rt-fund', * FROM ledger_credit('exp-rt', 100, 'fund') RETURNING :shown;
INSERT INTO calls SELECT 'rt1', * FROM ledger_reserve('exp-rt', 60, '1 second', 'rt1') RETURNING :shown;
SELECT * FROM pg_temp.bal('exp-rt');
SELECT pg_sleep(1.2);
-- The hold has lapsed: available is back, whether or not a sweep ran.
SELECT * FROM pg_temp.bal('exp-rt');
SELECT state FROM ledger_reservation('exp-rt', pg_temp.rid('rt1'));
SELECT pg_temp.try($$SELECT ledger_settle('exp-rt', pg_temp.rid('rt1'), 60, 'late-settle')$$) AS settle;
-- After the next write its one expire event exists in any case.
SELECT kind, balance, reserved, available FROM ledger_debit('exp-rt', 100, 'spend-all');
SELECT * FROM pg_temp.hold_state('rt1');

-- ---------------------------------------------------------------- the pg_cron job

-- CREATE EXTENSION scheduled ledger_expire() every minute in this database.
SELECT jobname, schedule, command, database = current_database() AS this_database, active
  FROM cron.job WHERE jobname = 'baseledger-expire';
-- The job's command runs.
SELECT command FROM cron.job WHERE jobname = 'baseledger-expire' \gexec
SELECT ledger_unschedule_expiry() AS unscheduled;
SELECT count(*) AS jobs FROM cron.job WHERE jobname = 'baseledger-expire';
SELECT ledger_unschedule_expiry() AS unscheduled;
SELECT ledger_schedule_expiry() AS jobid \gset
SELECT jobid = :jobid AS returns_the_jobid FROM cron.job WHERE jobname = 'baseledger-expire';
SELECT jobname, schedule, command, database = current_database() AS this_database, active
  FROM cron.job WHERE jobname = 'baseledger-expire';
-- Scheduling again changes the one job, it never adds a second.
SELECT ledger_schedule_expiry('*/5 * * * *') IS NOT NULL AS rescheduled;
SELECT ledger_schedule_expiry() IS NOT NULL AS rescheduled;
-- A NULL schedule is a NULL required argument.
\set VERBOSITY sqlstate
SELECT ledger_schedule_expiry(NULL);
\set VERBOSITY default
SELECT count(*) AS jobs, min(schedule) AS schedule FROM cron.job WHERE jobname = 'baseledger-expire';

-- ---------------------------------------------------------------- without pg_cron

SELECT current_database() AS ledger_db \gset
SET client_min_messages = warning;
DROP DATABASE IF EXISTS regress_baseledger_nocron;
RESET client_min_messages;
CREATE DATABASE regress_baseledger_nocron;
\c regress_baseledger_nocron
SELECT count(*) AS pg_cron FROM pg_extension WHERE extname = 'pg_cron';
-- CREATE EXTENSION says that no sweep is scheduled.
CREATE EXTENSION baseledger;
-- Scheduling is refused with 55000 and a hint.
\set SHOW_CONTEXT never
SELECT ledger.ledger_schedule_expiry();
\set SHOW_CONTEXT errors
DO $$
BEGIN
  PERFORM ledger.ledger_schedule_expiry();
EXCEPTION WHEN OTHERS THEN
  RAISE NOTICE 'SQLSTATE %', SQLSTATE;
END $$;
SELECT ledger.ledger_unschedule_expiry() AS unscheduled;
-- Without a sweep, lapsed holds still stop counting, and ledger_expire()
-- called by hand writes their expire events.
SELECT count(*) FROM ledger.ledger_create_wallet('exp-nocron');
SELECT kind FROM ledger.ledger_credit('exp-nocron', 10, 'fund');
SELECT kind FROM ledger.ledger_reserve('exp-nocron', 10, '10 minutes', 'hold');
SET baseledger.clock_offset = '10min';
SELECT balance, reserved, available FROM ledger.ledger_balance('exp-nocron');
SELECT ledger.ledger_expire() AS expired;
SELECT seq, kind, amount, balance, reserved FROM ledger.ledger_history('exp-nocron');
\c :ledger_db
DROP DATABASE regress_baseledger_nocron;
