-- ledger_verify() replays the events and reports every divergence from the
-- stored state: none on a healthy ledger, one row per problem after the
-- tables were edited behind the ledger's back.
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
-- ledger_verify() with reservation ids masked.
CREATE FUNCTION pg_temp.verify(w text DEFAULT NULL)
  RETURNS TABLE (wallet_id text, problem text) LANGUAGE sql AS $$
  SELECT wallet_id,
         regexp_replace(problem, '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}',
                        '<uuid>', 'g')
    FROM ledger.ledger_verify(w)
$$;

-- ---------------------------------------------------------------- a healthy ledger

SELECT count(*) FROM ledger_create_wallet('ver-a');
SELECT count(*) FROM ledger_create_wallet('ver-b-agent-1', 'tokens', '{"team": "b"}');
SELECT kind, balance FROM ledger_credit('ver-a', 100000, 'fund');
SELECT kind, balance FROM ledger_credit('ver-b-agent-1', 5000, 'fund');
-- 40 holds settled for 0 to 10, 20 cancelled, 20 extended and then settled in full.
SELECT count(*) AS settled, sum(s.amount) AS captured
  FROM generate_series(1, 40) i,
       ledger_reserve('ver-a', 10, '1 hour', 'r' || i) r,
       ledger_settle('ver-a', r.reservation_id, i % 11, 's' || i) s;
SELECT count(*) AS cancelled
  FROM generate_series(1, 20) i,
       ledger_reserve('ver-a', 25, '1 hour', 'cr' || i) r,
       ledger_cancel('ver-a', r.reservation_id, 'c' || i, jsonb_build_object('i', i)) c;
SELECT count(*) AS extended_and_settled
  FROM generate_series(1, 20) i,
       ledger_reserve('ver-b-agent-1', 7, '10 minutes', 'er' || i) r,
       ledger_extend('ver-b-agent-1', r.reservation_id, '2 hours', 'e' || i) e,
       ledger_settle('ver-b-agent-1', r.reservation_id, 7, 'es' || i) s;
SELECT count(*) AS debits FROM generate_series(1, 30) i, ledger_debit('ver-a', i, 'd' || i);
-- Holds that lapse: 5 expired by the next write, 5 by ledger_expire(), 2 still active.
SELECT count(*) AS holds FROM generate_series(1, 5) i, ledger_reserve('ver-a', 3, '10 minutes', 'x' || i);
SELECT count(*) AS holds FROM generate_series(1, 5) i, ledger_reserve('ver-b-agent-1', 3, '10 minutes', 'y' || i);
SELECT count(*) AS holds FROM generate_series(1, 2) i, ledger_reserve('ver-a', 4, '1 hour', 'z' || i);
SET baseledger.clock_offset = '11min';
SELECT kind, balance, reserved FROM ledger_credit('ver-a', 1, 'late');
SELECT ledger_expire() AS expired;
RESET baseledger.clock_offset;
SELECT wallet_id, balance, reserved, available, active_reservations, last_seq
  FROM ledger_balance('ver-a');
SELECT wallet_id, balance, reserved, available, active_reservations, last_seq
  FROM ledger_balance('ver-b-agent-1');
SELECT kind, count(*) FROM ledger.events GROUP BY kind ORDER BY kind;
SELECT state, count(*) FROM ledger.reservations GROUP BY state ORDER BY state;

SELECT * FROM ledger_verify();
SELECT * FROM ledger_verify('ver-a');
SELECT * FROM ledger_verify('ver-b-agent-1');
SELECT pg_temp.try($$SELECT ledger_verify('ver-nobody')$$) AS unknown_wallet;
SELECT pg_temp.try($$SELECT ledger_verify('ver//a')$$) AS invalid_wallet_id;

-- ---------------------------------------------------------------- tampering

-- Small wallets, one kind of damage each.
SELECT count(*) FROM generate_series(1, 9) i, ledger_create_wallet('ver-t' || i);
SELECT count(*) FROM generate_series(1, 9) i, ledger_credit('ver-t' || i, 100, 'fund');
SELECT kind FROM ledger_credit('ver-t1', 50, 'more');
SELECT kind FROM ledger_debit('ver-t1', 30, 'spend');
SELECT kind FROM ledger_debit('ver-t2', 10, 'spend-1');
SELECT kind FROM ledger_debit('ver-t2', 20, 'spend-2');
SELECT kind FROM ledger_debit('ver-t3', 30, 'spend');
SELECT kind FROM ledger_reserve('ver-t4', 40, '1 hour', 'hold');
SELECT kind FROM ledger_reserve('ver-t5', 40, '1 hour', 'hold');
SELECT kind FROM ledger_debit('ver-t7', 10, 'spend');
SELECT kind FROM ledger_debit('ver-t8', 10, 'spend-1');
SELECT kind FROM ledger_debit('ver-t8', 20, 'spend-2');
SELECT kind FROM ledger_reserve('ver-t9', 40, '1 hour', 'hold');
SELECT count(*) AS problems FROM ledger_verify();

-- As a superuser, with the append-only triggers switched off for a moment.
-- An edited, removed or moved event also breaks the hash chain at that seq;
-- a removed last event leaves the wallet's head hash pointing at nothing.
BEGIN;
ALTER TABLE ledger.events DISABLE TRIGGER ALL;
-- t1: an event's amount changed (credit 50 -> 60)
UPDATE ledger.events SET amount = 60 WHERE wallet_id = 'ver-t1' AND seq = 2;
-- t2: an event in the middle deleted
DELETE FROM ledger.events WHERE wallet_id = 'ver-t2' AND seq = 2;
-- t7: the last event deleted
DELETE FROM ledger.events WHERE wallet_id = 'ver-t7' AND seq = 2;
-- t8: an event moved back in time, before the one it follows
UPDATE ledger.events SET at = at - interval '1 hour' WHERE wallet_id = 'ver-t8' AND seq = 2;
ALTER TABLE ledger.events ENABLE ALWAYS TRIGGER events_no_update_delete;
ALTER TABLE ledger.events ENABLE ALWAYS TRIGGER events_no_truncate;
COMMIT;
-- Edits of the other tables need no trigger switched off.
-- t3: the wallet's balance edited
UPDATE ledger.wallets SET balance = balance + 1000 WHERE wallet_id = 'ver-t3';
-- t4: a reservation's state edited
UPDATE ledger.reservations SET state = 'cancelled' WHERE wallet_id = 'ver-t4';
-- t5: a reservation's amount edited
UPDATE ledger.reservations SET amount = 10 WHERE wallet_id = 'ver-t5';
-- t6: an event forged, appended directly, with a made-up hash of the right size
INSERT INTO ledger.events (wallet_id, seq, kind, amount, balance, reserved, at, hash)
  SELECT 'ver-t6', 2, 'credit', 1000000, 1000100, 0, at + interval '1 second', sha256('x'::bytea)
    FROM ledger.events WHERE wallet_id = 'ver-t6' AND seq = 1;
-- t9: the wallet row deleted (reported once: with no row there is no stored
-- balance, seq or head hash to compare)
DELETE FROM ledger.wallets WHERE wallet_id = 'ver-t9';

SELECT * FROM pg_temp.verify('ver-t1');
SELECT * FROM pg_temp.verify('ver-t2');
SELECT * FROM pg_temp.verify('ver-t3');
SELECT * FROM pg_temp.verify('ver-t4');
SELECT * FROM pg_temp.verify('ver-t5');
SELECT * FROM pg_temp.verify('ver-t6');
SELECT * FROM pg_temp.verify('ver-t7');
SELECT * FROM pg_temp.verify('ver-t8');
SELECT * FROM pg_temp.verify('ver-t9');
-- All wallets at once: every tampered wallet and only those.
SELECT * FROM pg_temp.verify() ORDER BY wallet_id COLLATE "C", problem COLLATE "C";
SELECT * FROM ledger_verify('ver-a');

-- The triggers are back as they were, and the log is append-only again.
SELECT tgname, tgenabled FROM pg_trigger
 WHERE tgrelid = 'ledger.events'::regclass AND NOT tgisinternal ORDER BY tgname;
SELECT pg_temp.try($$UPDATE ledger.events SET amount = 50 WHERE wallet_id = 'ver-t1' AND seq = 2$$);
SET session_replication_role = replica;
SELECT pg_temp.try($$DELETE FROM ledger.events WHERE wallet_id = 'ver-t6'$$);
RESET session_replication_role;
