-- Idempotency keys: a retry with the same key and identical arguments replays
-- the original result and writes nothing; the same key with any different
-- argument is refused with LB007; a failed call leaves no trace.
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
-- The same, with the error's detail and hint.
CREATE FUNCTION pg_temp.error_of(q text,
    OUT code text, OUT message text, OUT detail text, OUT hint text)
  LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
                          detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
END $$;

-- Every write's ledger_result, under a label. A retry is labelled
-- '<original>#<n>'.
CREATE TEMP TABLE calls (label text PRIMARY KEY, LIKE ledger.ledger_result);
\set shown 'label, seq, kind, amount, balance, reserved, available, replayed'
CREATE FUNCTION pg_temp.rid(label text) RETURNS uuid LANGUAGE sql AS $$
  SELECT reservation_id FROM pg_temp.calls WHERE label = $1
$$;
-- Each retry next to its original: every column but replayed must be equal.
CREATE TEMP VIEW retries AS
  SELECT p.label AS retry, p.seq, p.kind, p.amount, p.balance, p.reserved, p.available,
         p.replayed,
         (o.wallet_id, o.seq, o.kind, o.reservation_id, o.amount, o.balance, o.reserved,
          o.available, o.expires_at, o.at)
           IS NOT DISTINCT FROM
         (p.wallet_id, p.seq, p.kind, p.reservation_id, p.amount, p.balance, p.reserved,
          p.available, p.expires_at, p.at) AS same_as_original
    FROM calls p JOIN calls o ON o.label = split_part(p.label, '#', 1)
   WHERE p.label LIKE '%#%';
-- What has been written so far, to prove that a call wrote nothing: the
-- counts, and the wallet rows (with their last event times) as text.
CREATE FUNCTION pg_temp.written()
  RETURNS TABLE (events bigint, reservations bigint, wallets text)
  LANGUAGE sql AS $$
  SELECT (SELECT count(*) FROM ledger.events),
         (SELECT count(*) FROM ledger.reservations),
         (SELECT string_agg(concat_ws(' ', wallet_id, balance, reserved, last_seq,
                                      extract(epoch FROM last_at)), ', ' ORDER BY wallet_id)
            FROM ledger.wallets)
$$;

-- ---------------------------------------------------------------- one call of each kind

SELECT count(*) AS created FROM ledger_create_wallet('idem-a');
INSERT INTO calls SELECT 'credit', * FROM ledger_credit('idem-a', 1000, 'k-credit', '{"src": "invoice-1"}')
  RETURNING :shown;
INSERT INTO calls SELECT 'debit', * FROM ledger_debit('idem-a', 100, 'k-debit')
  RETURNING :shown;
INSERT INTO calls SELECT 'reserve', * FROM ledger_reserve('idem-a', 300, '1 hour', 'k-reserve',
                                                         '{"call": 1, "model": "large"}')
  RETURNING :shown;
INSERT INTO calls SELECT 'settle', * FROM ledger_settle('idem-a', pg_temp.rid('reserve'), 120, 'k-settle')
  RETURNING :shown;
INSERT INTO calls SELECT 'reserve2', * FROM ledger_reserve('idem-a', 200, '1 hour', 'k-reserve2')
  RETURNING :shown;
INSERT INTO calls SELECT 'cancel', * FROM ledger_cancel('idem-a', pg_temp.rid('reserve2'), 'k-cancel',
                                                       '{"why": "timeout"}')
  RETURNING :shown;
INSERT INTO calls SELECT 'reserve3', * FROM ledger_reserve('idem-a', 100, '10 minutes', 'k-reserve3')
  RETURNING :shown;
INSERT INTO calls SELECT 'extend', * FROM ledger_extend('idem-a', pg_temp.rid('reserve3'), '1 hour', 'k-extend')
  RETURNING :shown;
-- One more write, so that every replay below comes after later events.
INSERT INTO calls SELECT 'credit2', * FROM ledger_credit('idem-a', 5, 'k-credit2')
  RETURNING :shown;
CREATE TEMP TABLE before AS SELECT * FROM pg_temp.written();
SELECT events, reservations FROM before;

-- ---------------------------------------------------------------- replays

-- Each retry returns the original result, with the balances as they were
-- then, replayed = true.
INSERT INTO calls SELECT 'credit#2', * FROM ledger_credit('idem-a', 1000, 'k-credit', '{"src": "invoice-1"}');
INSERT INTO calls SELECT 'debit#2', * FROM ledger_debit('idem-a', 100, 'k-debit');
INSERT INTO calls SELECT 'reserve#2', * FROM ledger_reserve('idem-a', 300, '1 hour', 'k-reserve',
                                                           '{"call": 1, "model": "large"}');
INSERT INTO calls SELECT 'settle#2', * FROM ledger_settle('idem-a', pg_temp.rid('reserve'), 120, 'k-settle');
INSERT INTO calls SELECT 'reserve2#2', * FROM ledger_reserve('idem-a', 200, '1 hour', 'k-reserve2');
INSERT INTO calls SELECT 'cancel#2', * FROM ledger_cancel('idem-a', pg_temp.rid('reserve2'), 'k-cancel',
                                                         '{"why": "timeout"}');
INSERT INTO calls SELECT 'reserve3#2', * FROM ledger_reserve('idem-a', 100, '10 minutes', 'k-reserve3');
INSERT INTO calls SELECT 'extend#2', * FROM ledger_extend('idem-a', pg_temp.rid('reserve3'), '1 hour', 'k-extend');
-- A second retry is a replay too.
INSERT INTO calls SELECT 'credit#3', * FROM ledger_credit('idem-a', 1000, 'k-credit', '{"src": "invoice-1"}');
-- The same arguments spelled differently are the same request: jsonb does
-- not keep key order or spacing, and '60 minutes' is the interval '1 hour'.
INSERT INTO calls SELECT 'reserve#3', * FROM ledger_reserve('idem-a', 300, '60 minutes', 'k-reserve',
                                                           '{ "model" : "large", "call" : 1 }');
INSERT INTO calls SELECT 'reserve#4', * FROM ledger_reserve('idem-a', 300, '3600 seconds', 'k-reserve',
                                                           '{"model": "large", "call": 1}');
SELECT * FROM retries ORDER BY retry;
-- The replay of a reserve gives the same reservation id and expires_at.
SELECT p.label, p.reservation_id = o.reservation_id AS same_rid,
       p.expires_at = o.expires_at AS same_expires_at, p.at = o.at AS same_at
  FROM calls p JOIN calls o ON o.label = split_part(p.label, '#', 1)
 WHERE p.kind IN ('reserve', 'extend') AND p.replayed ORDER BY p.label;
-- Nothing was written: no event, no reservation, the wallets as they were.
SELECT w.events, w.reservations, w IS NOT DISTINCT FROM b AS unchanged
  FROM pg_temp.written() w, before b;
SELECT count(*) AS reservations FROM ledger.reservations WHERE wallet_id = 'idem-a';

-- A retry is replayed even where the call would now fail: the settle and the
-- cancel of a closed reservation, and a debit that the wallet can no longer
-- afford.
SELECT count(*) AS created FROM ledger_create_wallet('idem-b');
INSERT INTO calls SELECT 'b-credit', * FROM ledger_credit('idem-b', 100, 'b-credit')
  RETURNING :shown;
INSERT INTO calls SELECT 'b-spend', * FROM ledger_debit('idem-b', 100, 'b-spend')
  RETURNING :shown;
INSERT INTO calls SELECT 'b-spend#2', * FROM ledger_debit('idem-b', 100, 'b-spend')
  RETURNING :shown;
SELECT pg_temp.try($$SELECT ledger_debit('idem-b', 100, 'b-spend-again')$$) AS new_key;
SELECT r.state FROM ledger_reservation('idem-a', pg_temp.rid('reserve')) r;
INSERT INTO calls SELECT 'settle#3', * FROM ledger_settle('idem-a', pg_temp.rid('reserve'), 120, 'k-settle')
  RETURNING :shown;
SELECT pg_temp.try($$SELECT ledger_settle('idem-a', pg_temp.rid('reserve'), 120, 'k-settle-new')$$)
  AS new_key;
INSERT INTO calls SELECT 'cancel#3', * FROM ledger_cancel('idem-a', pg_temp.rid('reserve2'), 'k-cancel',
                                                         '{"why": "timeout"}')
  RETURNING :shown;
SELECT retry, same_as_original FROM retries WHERE retry IN ('b-spend#2', 'settle#3', 'cancel#3')
 ORDER BY retry;

-- ---------------------------------------------------------------- conflicts

DROP TABLE before;
CREATE TEMP TABLE before AS SELECT * FROM pg_temp.written();
-- The same key with anything different is refused, whatever the kind of the
-- original call, and before the reservation is looked at: the cancel with
-- the settle's key and the extend of the settled reservation would
-- otherwise be LB004.
SELECT label, pg_temp.try(q) AS result FROM (VALUES
  ('kind: debit with a credit key',
   $$SELECT ledger_debit('idem-a', 1000, 'k-credit', '{"src": "invoice-1"}')$$),
  ('kind: reserve with a credit key',
   $$SELECT ledger_reserve('idem-a', 1000, '1 hour', 'k-credit', '{"src": "invoice-1"}')$$),
  ('kind: credit with a debit key',
   $$SELECT ledger_credit('idem-a', 100, 'k-debit')$$),
  ('kind: cancel with a settle key',
   $$SELECT ledger_cancel('idem-a', pg_temp.rid('reserve'), 'k-settle')$$),
  ('kind: credit with an extend key',
   $$SELECT ledger_credit('idem-a', 1, 'k-extend')$$),
  ('amount: credit',
   $$SELECT ledger_credit('idem-a', 999, 'k-credit', '{"src": "invoice-1"}')$$),
  ('amount: debit',
   $$SELECT ledger_debit('idem-a', 101, 'k-debit')$$),
  ('amount: reserve',
   $$SELECT ledger_reserve('idem-a', 301, '1 hour', 'k-reserve', '{"call": 1, "model": "large"}')$$),
  ('amount: settle',
   $$SELECT ledger_settle('idem-a', pg_temp.rid('reserve'), 121, 'k-settle')$$),
  ('ttl: reserve',
   $$SELECT ledger_reserve('idem-a', 300, '2 hours', 'k-reserve', '{"call": 1, "model": "large"}')$$),
  ('ttl: reserve, one microsecond more',
   $$SELECT ledger_reserve('idem-a', 300, '1 hour 0.000001 seconds', 'k-reserve', '{"call": 1, "model": "large"}')$$),
  ('ttl: extend',
   $$SELECT ledger_extend('idem-a', pg_temp.rid('reserve3'), '2 hours', 'k-extend')$$),
  ('reservation: settle',
   $$SELECT ledger_settle('idem-a', pg_temp.rid('reserve3'), 120, 'k-settle')$$),
  ('reservation: cancel',
   $$SELECT ledger_cancel('idem-a', pg_temp.rid('reserve3'), 'k-cancel', '{"why": "timeout"}')$$),
  ('reservation: extend',
   $$SELECT ledger_extend('idem-a', pg_temp.rid('reserve'), '1 hour', 'k-extend')$$),
  ('metadata: changed',
   $$SELECT ledger_credit('idem-a', 1000, 'k-credit', '{"src": "invoice-2"}')$$),
  ('metadata: a key added',
   $$SELECT ledger_credit('idem-a', 1000, 'k-credit', '{"src": "invoice-1", "n": 2}')$$),
  ('metadata: left out',
   $$SELECT ledger_credit('idem-a', 1000, 'k-credit')$$),
  ('metadata: NULL',
   $$SELECT ledger_credit('idem-a', 1000, 'k-credit', NULL)$$),
  ('metadata: added where there was none',
   $$SELECT ledger_debit('idem-a', 100, 'k-debit', '{"src": "invoice-1"}')$$),
  ('metadata: {} where there was none',
   $$SELECT ledger_debit('idem-a', 100, 'k-debit', '{}')$$),
  ('metadata: cancel',
   $$SELECT ledger_cancel('idem-a', pg_temp.rid('reserve2'), 'k-cancel', '{"why": "error"}')$$)
) AS t(label, q);
-- NULL metadata and an empty object are different requests, both ways.
INSERT INTO calls SELECT 'null-meta', * FROM ledger_credit('idem-b', 1, 'k-null-meta')
  RETURNING :shown;
INSERT INTO calls SELECT 'empty-meta', * FROM ledger_credit('idem-b', 1, 'k-empty-meta', '{}')
  RETURNING :shown;
DROP TABLE before;
CREATE TEMP TABLE before AS SELECT * FROM pg_temp.written();
SELECT pg_temp.try($$SELECT ledger_credit('idem-b', 1, 'k-null-meta', '{}')$$) AS null_then_empty;
SELECT pg_temp.try($$SELECT ledger_credit('idem-b', 1, 'k-empty-meta')$$) AS empty_then_null;
INSERT INTO calls SELECT 'null-meta#2', * FROM ledger_credit('idem-b', 1, 'k-null-meta', NULL)
  RETURNING :shown;
INSERT INTO calls SELECT 'empty-meta#2', * FROM ledger_credit('idem-b', 1, 'k-empty-meta', '{ }')
  RETURNING :shown;
-- The conflict, in full.
\x on
SELECT * FROM pg_temp.error_of($$SELECT ledger_settle('idem-a', pg_temp.rid('reserve3'), 120, 'k-settle')$$);
\x off
-- Refused calls wrote nothing either.
SELECT w.events, w.reservations, w IS NOT DISTINCT FROM b AS unchanged
  FROM pg_temp.written() w, before b;

-- ---------------------------------------------------------------- keys are per wallet

-- The keys of idem-a are new keys in another wallet.
SELECT count(*) AS created FROM ledger_create_wallet('idem-c');
INSERT INTO calls SELECT 'c-credit', * FROM ledger_credit('idem-c', 7, 'k-credit')
  RETURNING :shown;
INSERT INTO calls SELECT 'c-reserve', * FROM ledger_reserve('idem-c', 7, '2 hours', 'k-reserve')
  RETURNING :shown;
INSERT INTO calls SELECT 'c-cancel', * FROM ledger_cancel('idem-c', pg_temp.rid('c-reserve'), 'k-settle')
  RETURNING :shown;
-- A key is the exact text: another case is another key.
INSERT INTO calls SELECT 'upper', * FROM ledger_credit('idem-a', 1000, 'K-CREDIT', '{"src": "invoice-1"}')
  RETURNING :shown;
SELECT wallet_id, seq, kind, idempotency_key FROM ledger.events
 WHERE idempotency_key IN ('k-credit', 'K-CREDIT', 'k-reserve', 'k-settle') ORDER BY 1, 2;

-- ---------------------------------------------------------------- failed calls leave no trace

SELECT count(*) AS created FROM ledger_create_wallet('idem-d');
INSERT INTO calls SELECT 'd-credit', * FROM ledger_credit('idem-d', 50, 'd-credit')
  RETURNING :shown;
DROP TABLE before;
CREATE TEMP TABLE before AS SELECT * FROM pg_temp.written();
SELECT pg_temp.try($$SELECT ledger_debit('idem-d', 80, 'pay-1')$$) AS debit_80;
SELECT pg_temp.try($$SELECT ledger_reserve('idem-d', 80, '1 hour', 'hold-1')$$) AS reserve_80;
SELECT w IS NOT DISTINCT FROM b AS unchanged FROM pg_temp.written() w, before b;
SELECT seq, kind, idempotency_key FROM ledger_history('idem-d');
-- After a top-up the same calls, with the same keys, are evaluated afresh.
INSERT INTO calls SELECT 'd-credit2', * FROM ledger_credit('idem-d', 100, 'd-credit2')
  RETURNING :shown;
INSERT INTO calls SELECT 'd-pay', * FROM ledger_debit('idem-d', 80, 'pay-1')
  RETURNING :shown;
INSERT INTO calls SELECT 'd-hold', * FROM ledger_reserve('idem-d', 60, '1 hour', 'hold-1')
  RETURNING :shown;
INSERT INTO calls SELECT 'd-pay#2', * FROM ledger_debit('idem-d', 80, 'pay-1')
  RETURNING :shown;
-- A refused settle does not use up its key: the next settle with that key,
-- with other arguments, is a new request.
SELECT pg_temp.try($$SELECT ledger_settle('idem-d', pg_temp.rid('d-hold'), 61, 'settle-1')$$) AS capture_61;
INSERT INTO calls SELECT 'd-settle', * FROM ledger_settle('idem-d', pg_temp.rid('d-hold'), 60, 'settle-1')
  RETURNING :shown;
-- So does a call refused for its input.
SELECT pg_temp.try($$SELECT ledger_credit('idem-d', 0, 'credit-x')$$) AS credit_0;
INSERT INTO calls SELECT 'd-credit-x', * FROM ledger_credit('idem-d', 3, 'credit-x')
  RETURNING :shown;
SELECT seq, kind, amount, idempotency_key, balance, reserved FROM ledger_history('idem-d');

-- ---------------------------------------------------------------- key length

-- 1 to 255 characters, counted as characters: 'ä' takes two bytes in UTF-8.
SELECT length(repeat('ä', 255)) AS chars, octet_length(repeat('ä', 255)) AS bytes;
SELECT label, pg_temp.try(q) AS result FROM (VALUES
  ('empty', $$SELECT ledger_credit('idem-d', 1, '')$$),
  ('1 character', $$SELECT ledger_credit('idem-d', 1, 'x')$$),
  ('255 ASCII characters', $$SELECT ledger_credit('idem-d', 1, repeat('k', 255))$$),
  ('256 ASCII characters', $$SELECT ledger_credit('idem-d', 1, repeat('k', 256))$$),
  ('255 two-byte characters', $$SELECT ledger_credit('idem-d', 1, repeat('ä', 255))$$),
  ('256 two-byte characters', $$SELECT ledger_credit('idem-d', 1, repeat('ä', 256))$$),
  ('128 two-byte characters', $$SELECT ledger_credit('idem-d', 1, repeat('ä', 128))$$),
  ('255 four-byte characters', $$SELECT ledger_credit('idem-d', 1, repeat('🙂', 255))$$),
  ('256 four-byte characters', $$SELECT ledger_credit('idem-d', 1, repeat('🙂', 256))$$)
) AS t(label, q);
-- The long keys are stored whole and replay like any other.
INSERT INTO calls SELECT 'long-key-retry', * FROM ledger_credit('idem-d', 1, repeat('ä', 255))
  RETURNING :shown;
SELECT length(idempotency_key), octet_length(idempotency_key) FROM ledger.events
 WHERE wallet_id = 'idem-d' AND length(idempotency_key) > 100 ORDER BY seq;

SELECT * FROM ledger_verify();
