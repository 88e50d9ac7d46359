-- Monotonic time: within a wallet seq increases by exactly 1 and `at`
-- strictly increases, even when the clock steps back (here by an hour, with
-- baseledger.clock_offset); expiry stays consistent across the steps.
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
CREATE TEMP TABLE calls (label text PRIMARY KEY, LIKE ledger.ledger_result);
\set shown 'label, seq, kind, amount, balance, reserved, available, expires_at - at AS ttl, replayed'
CREATE FUNCTION pg_temp.rid(label text) RETURNS uuid LANGUAGE sql AS $$
  SELECT reservation_id FROM pg_temp.calls WHERE label = $1
$$;
-- Each event of a wallet next to the one before it.
CREATE FUNCTION pg_temp.steps(w text)
  RETURNS TABLE (seq bigint, kind text, seq_step bigint, at_increases boolean)
  LANGUAGE sql AS $$
  SELECT seq, kind, seq - lag(seq) OVER w, at > lag(at) OVER w
    FROM ledger.ledger_history(w, 0, 10000) WINDOW w AS (ORDER BY seq)
$$;

SELECT count(*) FROM ledger_create_wallet('time-a');
INSERT INTO calls SELECT 'fund', * FROM ledger_credit('time-a', 100, 'fund') RETURNING :shown;
INSERT INTO calls SELECT 'h1', * FROM ledger_reserve('time-a', 50, '10 minutes', 'h1') RETURNING :shown;
INSERT INTO calls SELECT 'spend', * FROM ledger_debit('time-a', 10, 'spend') RETURNING :shown;

-- ---------------------------------------------------------------- the clock steps back an hour

SET baseledger.clock_offset = '-1h';
INSERT INTO calls SELECT 'top-up', * FROM ledger_credit('time-a', 5, 'top-up') RETURNING :shown;
INSERT INTO calls SELECT 'h2', * FROM ledger_reserve('time-a', 20, '10 minutes', 'h2') RETURNING :shown;
-- h1 is still live: the step back neither expires nor revives anything.
INSERT INTO calls SELECT 'settle-h1', * FROM ledger_settle('time-a', pg_temp.rid('h1'), 30, 'settle-h1')
  RETURNING :shown;
INSERT INTO calls SELECT 'beat-h2', * FROM ledger_extend('time-a', pg_temp.rid('h2'), '10 minutes', 'beat-h2')
  RETURNING :shown;
SELECT count(*) AS debits FROM generate_series(1, 20) i, ledger_debit('time-a', 1, 'small-' || i);
-- seq goes up by 1 and at strictly increases across the step.
SELECT * FROM pg_temp.steps('time-a');
-- The events after the step are not stamped an hour back: each is after
-- the last one written before the step.
SELECT count(*) AS after_step,
       bool_and(e.at > (SELECT at FROM calls WHERE label = 'spend')) AS after_last_event
  FROM ledger.events e WHERE e.wallet_id = 'time-a' AND e.seq > 3;
-- A retry during the step back replays the original, with its original time.
INSERT INTO calls SELECT 'fund#2', * FROM ledger_credit('time-a', 100, 'fund') RETURNING :shown;
SELECT o.at = p.at AS same_at FROM calls o, calls p WHERE o.label = 'fund' AND p.label = 'fund#2';

-- The ttl counts from the event's own time, so a hold made or extended
-- during the step still gets its full ttl, and nothing lapses early.
SELECT label, expires_at - at AS ttl, expires_at > at AS in_the_future FROM calls
 WHERE label IN ('h2', 'beat-h2') ORDER BY label;
SELECT r.state, r.amount FROM ledger_reservation('time-a', pg_temp.rid('h2')) r;
SELECT balance, reserved, available, active_reservations FROM ledger_balance('time-a');
SELECT ledger_expire() AS expired;

-- A wallet is its own timeline: one first written during the step has
-- earlier times than time-a, which is allowed.
SELECT count(*) FROM ledger_create_wallet('time-b');
INSERT INTO calls SELECT 'b-fund', * FROM ledger_credit('time-b', 1, 'b-fund') RETURNING :shown;
SELECT b.at < a.at AS earlier_than_time_a FROM calls b, calls a
 WHERE b.label = 'b-fund' AND a.label = 'fund';

-- ---------------------------------------------------------------- forward past the expiry, then back again

-- 11 minutes ahead of the real clock h2 (extended ~10 minutes from now) has lapsed.
SET baseledger.clock_offset = '11min';
SELECT r.state FROM ledger_reservation('time-a', pg_temp.rid('h2')) r;
SELECT balance, reserved, available, active_reservations FROM ledger_balance('time-a');
-- The next write expires it first.
INSERT INTO calls SELECT 'late-credit', * FROM ledger_credit('time-a', 1, 'late-credit') RETURNING :shown;
SELECT seq, kind, amount, balance, reserved FROM ledger_history('time-a', 25);

-- An hour behind again: h2 stays expired, it is not revived, and no second
-- expire event is ever written.
SET baseledger.clock_offset = '-1h';
SELECT r.state FROM ledger_reservation('time-a', pg_temp.rid('h2')) r;
SELECT pg_temp.try($$SELECT ledger_settle('time-a', pg_temp.rid('h2'), 1, 'settle-h2')$$) AS settle;
SELECT pg_temp.try($$SELECT ledger_extend('time-a', pg_temp.rid('h2'), '1 hour', 'beat-h2-again')$$) AS extend;
SELECT ledger_expire() AS expired;
INSERT INTO calls SELECT 'h3', * FROM ledger_reserve('time-a', 5, '10 minutes', 'h3') RETURNING :shown;
INSERT INTO calls SELECT 'cancel-h3', * FROM ledger_cancel('time-a', pg_temp.rid('h3'), 'cancel-h3')
  RETURNING :shown;
SELECT count(*) AS expire_events_of_h2 FROM ledger.events
 WHERE reservation_id = pg_temp.rid('h2') AND kind = 'expire';
SELECT balance, reserved, available, active_reservations, last_seq FROM ledger_balance('time-a');

-- Over every wallet's whole history: no gap, no repeat, no step back.
SELECT wallet_id, count(*) AS events,
       bool_and(seq = prev_seq + 1 OR prev_seq IS NULL AND seq = 1) AS seq_by_one,
       bool_and(at > prev_at OR prev_at IS NULL) AS at_increases
  FROM (SELECT wallet_id, seq, at,
               lag(seq) OVER w AS prev_seq, lag(at) OVER w AS prev_at
          FROM ledger.events WINDOW w AS (PARTITION BY wallet_id ORDER BY seq)) e
 GROUP BY wallet_id ORDER BY wallet_id;
-- The wallets' last event time is their last event's.
SELECT w.wallet_id, w.last_at = e.at AS last_at_matches
  FROM ledger.wallets w JOIN ledger.events e ON e.wallet_id = w.wallet_id AND e.seq = w.last_seq
 ORDER BY w.wallet_id;
SELECT * FROM ledger_verify();
RESET baseledger.clock_offset;
