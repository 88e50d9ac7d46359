-- The batch calls, ledger_reserve_batch and ledger_settle_batch: one row per
-- element, in element order. Each element behaves as the single call would,
-- decided on the state the earlier elements of its wallet left. A refused
-- element reports its SQLSTATE and message in its row and writes nothing; the
-- others go on. Keys replay within the batch and from storage. Call-level
-- errors (NULL or mismatched arrays, too many elements) abort the whole call.
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
-- A wallet's events without their times.
CREATE FUNCTION pg_temp.hist(w text)
  RETURNS TABLE (seq bigint, kind text, amount bigint, idempotency_key text, balance bigint,
                 reserved bigint, metadata jsonb)
  LANGUAGE sql AS $$
  SELECT seq, kind, amount, idempotency_key, balance, reserved, metadata
    FROM ledger.ledger_history(w) ORDER BY seq
$$;
-- What has been written so far, to prove that a call wrote nothing: the
-- counts, and a hash of the wallet rows (with their last event times).
CREATE FUNCTION pg_temp.written()
  RETURNS TABLE (events bigint, reservations bigint, wallets text)
  LANGUAGE sql AS $$
  SELECT (SELECT count(*) FROM ledger.events),
         (SELECT count(*) FROM ledger.reservations),
         (SELECT md5(string_agg(concat_ws(' ', wallet_id, balance, reserved, last_seq,
                                          extract(epoch FROM last_at)), ', ' ORDER BY wallet_id))
            FROM ledger.wallets)
$$;
CREATE TEMP TABLE marks (mark text PRIMARY KEY, events bigint, reservations bigint, wallets text);
-- Remembers what is written now under a name ...
CREATE FUNCTION pg_temp.mark(m text) RETURNS void LANGUAGE sql AS $$
  INSERT INTO pg_temp.marks SELECT m, * FROM pg_temp.written()
$$;
-- ... and reports what was written since.
CREATE FUNCTION pg_temp.since(m text)
  RETURNS TABLE (new_events bigint, new_reservations bigint, wallets_unchanged boolean)
  LANGUAGE sql AS $$
  SELECT w.events - m.events, w.reservations - m.reservations, w.wallets = m.wallets
    FROM pg_temp.written() w, pg_temp.marks m WHERE m.mark = $1
$$;

-- Every batch row, under the batch's label.
CREATE TEMP TABLE rows AS
  SELECT ''::text AS batch, * FROM ledger_reserve_batch('{}', '{}', '{}', '{}') WITH NO DATA;
\set shown 'batch, ordinal, sqlstate, message, wallet_id, seq, kind, amount, balance, reserved, available, expires_at - at AS ttl, replayed'
-- The reservation an element of a batch created.
CREATE FUNCTION pg_temp.rid(batch text, ord integer) RETURNS uuid LANGUAGE sql AS $$
  SELECT reservation_id FROM pg_temp.rows WHERE batch = $1 AND ordinal = $2
$$;
-- Each row of a retried batch next to the original's: every column but
-- replayed must be equal.
CREATE FUNCTION pg_temp.same_rows(original text, retry text)
  RETURNS TABLE (ordinal integer, sqlstate text, replayed boolean, same_as_original boolean)
  LANGUAGE sql AS $$
  SELECT r.ordinal, r.sqlstate, r.replayed,
         (o.sqlstate, o.wallet_id, o.seq, o.kind, o.reservation_id, o.amount, o.balance,
          o.reserved, o.available, o.expires_at, o.at)
           IS NOT DISTINCT FROM
         (r.sqlstate, r.wallet_id, r.seq, r.kind, r.reservation_id, r.amount, r.balance,
          r.reserved, r.available, r.expires_at, r.at)
    FROM pg_temp.rows r JOIN pg_temp.rows o ON o.batch = $1 AND o.ordinal = r.ordinal
   WHERE r.batch = $2 ORDER BY r.ordinal
$$;

-- ---------------------------------------------------------------- mixed success and failure

SELECT count(*) FROM ledger_create_wallet('batch-a');
SELECT count(*) FROM ledger_create_wallet('batch-b');
SELECT count(*) FROM ledger_create_wallet('batch-empty');
SELECT amount, balance FROM ledger_credit('batch-a', 100, 'fund');
SELECT amount, balance FROM ledger_credit('batch-b', 50, 'fund');
SELECT pg_temp.mark('mixed');

-- a has 100: 60 fits, 50 no longer does, 40 still does, then a has nothing
-- left; the same key in two wallets is two requests; a wallet that does not
-- exist and an empty one refuse their elements; b takes two holds.
INSERT INTO rows SELECT 'mixed', * FROM ledger_reserve_batch(
    ARRAY['batch-a', 'batch-b', 'batch-a', 'batch-a', 'batch-none', 'batch-empty', 'batch-a', 'batch-b'],
    ARRAY[60, 30, 50, 40, 1, 1, 1, 20],
    ARRAY['1 hour', '10 minutes', '1 hour', '30 minutes', '1 hour', '1 hour', '1 hour', '1 hour']::interval[],
    ARRAY['k1', 'k1', 'k2', 'k3', 'k1', 'k1', 'k4', 'k2'])
  RETURNING :shown;
-- Only the four successful elements wrote: four events, four holds.
SELECT * FROM pg_temp.since('mixed');
SELECT * FROM pg_temp.hist('batch-a');
SELECT * FROM pg_temp.hist('batch-b');
SELECT * FROM pg_temp.hist('batch-empty');
SELECT * FROM pg_temp.bal('batch-a');
SELECT * FROM pg_temp.bal('batch-b');
-- The rows' reservation ids are the stored holds, each in its own wallet.
SELECT r.ordinal, s.wallet_id, s.amount, s.state, s.expires_at = r.expires_at AS same_expiry
  FROM rows r JOIN ledger.reservations s ON s.reservation_id = r.reservation_id
 WHERE r.batch = 'mixed' ORDER BY r.ordinal;
-- A successful row's times: `at` strictly increases within a wallet.
SELECT r2.at > r1.at AS later FROM rows r1, rows r2
 WHERE r1.batch = 'mixed' AND r1.ordinal = 1 AND r2.batch = 'mixed' AND r2.ordinal = 4;

-- ---------------------------------------------------------------- the whole batch again

-- The successful elements replay (same seq, reservation, balances, times);
-- the refused ones are decided afresh and refused again; nothing is written.
SELECT pg_temp.mark('mixed#1');
INSERT INTO rows SELECT 'mixed#1', * FROM ledger_reserve_batch(
    ARRAY['batch-a', 'batch-b', 'batch-a', 'batch-a', 'batch-none', 'batch-empty', 'batch-a', 'batch-b'],
    ARRAY[60, 30, 50, 40, 1, 1, 1, 20],
    ARRAY['1 hour', '10 minutes', '1 hour', '30 minutes', '1 hour', '1 hour', '1 hour', '1 hour']::interval[],
    ARRAY['k1', 'k1', 'k2', 'k3', 'k1', 'k1', 'k4', 'k2'])
  RETURNING :shown;
SELECT * FROM pg_temp.same_rows('mixed', 'mixed#1');
SELECT * FROM pg_temp.since('mixed#1');

-- A refusal left no trace: once funds are back, key k2 of a is a new
-- request, with other arguments than the refused element's.
SELECT kind, amount, available FROM ledger_cancel('batch-a', pg_temp.rid('mixed', 4), 'cancel-k3');
SELECT pg_temp.mark('mixed#2');
INSERT INTO rows SELECT 'mixed#2', * FROM ledger_reserve_batch(
    ARRAY['batch-a', 'batch-a'], ARRAY[10, 60], ARRAY['1 hour', '1 hour']::interval[],
    ARRAY['k2', 'k1'])
  RETURNING :shown;
SELECT * FROM pg_temp.since('mixed#2');

-- ---------------------------------------------------------------- the same key twice in one batch

SELECT count(*) FROM ledger_create_wallet('batch-dup');
SELECT amount, balance FROM ledger_credit('batch-dup', 1000, 'fund');
SELECT pg_temp.mark('dup');
-- Element 2 repeats element 1 exactly: it replays element 1's result.
-- Elements 4 to 6 reuse element 3's key d2 with another amount, ttl or
-- metadata: LB007. Element 7 uses d2 in another wallet: a request of its
-- own. Element 8 repeats element 3 after the conflicts: still a replay.
INSERT INTO rows SELECT 'dup', * FROM ledger_reserve_batch(
    ARRAY['batch-dup', 'batch-dup', 'batch-dup', 'batch-dup', 'batch-dup', 'batch-dup', 'batch-a', 'batch-dup'],
    ARRAY[100, 100, 200, 201, 200, 200, 10, 200],
    ARRAY['1 hour', '1 hour', '1 hour', '1 hour', '2 hours', '1 hour', '1 hour', '1 hour']::interval[],
    ARRAY['d1', 'd1', 'd2', 'd2', 'd2', 'd2', 'd2', 'd2'],
    ARRAY[NULL, NULL, '{"job": 2}', '{"job": 2}', '{"job": 2}', '{"job": 3}', NULL, '{"job": 2}']::jsonb[])
  RETURNING :shown;
SELECT r.ordinal, r.reservation_id = o.reservation_id AS same_reservation, r.at = o.at AS same_at
  FROM rows r JOIN rows o ON o.batch = 'dup' AND o.ordinal = CASE r.ordinal WHEN 2 THEN 1 ELSE 3 END
 WHERE r.batch = 'dup' AND r.ordinal IN (2, 8) ORDER BY r.ordinal;
-- Two holds in dup and one in a: three events.
SELECT * FROM pg_temp.since('dup');
SELECT * FROM pg_temp.hist('batch-dup');

-- A key first refused, then used again in the same batch: decided afresh.
SELECT pg_temp.mark('dup2');
INSERT INTO rows SELECT 'dup2', * FROM ledger_reserve_batch(
    ARRAY['batch-dup', 'batch-dup', 'batch-dup'], ARRAY[5000, 300, 300],
    ARRAY['1 hour', '1 hour', '1 hour']::interval[], ARRAY['d3', 'd3', 'd3'])
  RETURNING :shown;
SELECT * FROM pg_temp.since('dup2');

-- ---------------------------------------------------------------- keys stored by other calls

-- A single call's key replays in a batch, and a batch's key in a single
-- call: the requests are the same whichever way they are sent.
SELECT count(*) FROM ledger_create_wallet('batch-mix');
SELECT amount, balance FROM ledger_credit('batch-mix', 500, 'fund');
CREATE TEMP TABLE single AS
  SELECT * FROM ledger_reserve('batch-mix', 100, '1 hour', 'single', '{"via": "single"}');
SELECT pg_temp.mark('stored');
INSERT INTO rows SELECT 'stored', * FROM ledger_reserve_batch(
    ARRAY['batch-mix', 'batch-mix', 'batch-mix', 'batch-mix', 'batch-mix'],
    ARRAY[100, 100, 100, 100, 50],
    ARRAY['1 hour', '1 hour', '1 hour', '1 hour', '1 hour']::interval[],
    ARRAY['single', 'single', 'single', 'fund', 'batched'],
    ARRAY['{"via": "single"}', NULL, '{"via": "batch"}', NULL, '{"via": "batch"}']::jsonb[])
  RETURNING :shown;
-- Row 1 is the single call's result.
SELECT (s.seq, s.reservation_id, s.balance, s.reserved, s.available, s.expires_at, s.at)
         = (r.seq, r.reservation_id, r.balance, r.reserved, r.available, r.expires_at, r.at)
         AS same_as_single_call
  FROM single s, rows r WHERE r.batch = 'stored' AND r.ordinal = 1;
SELECT seq, kind, amount, replayed, reservation_id = pg_temp.rid('stored', 5) AS same_reservation
  FROM ledger_reserve('batch-mix', 50, '1 hour', 'batched', '{"via": "batch"}');
SELECT pg_temp.try($$SELECT ledger_reserve('batch-mix', 50, '1 hour', 'batched')$$);
SELECT pg_temp.try($$SELECT ledger_settle('batch-mix', pg_temp.rid('stored', 5), 50, 'batched', '{"via": "batch"}')$$);
-- Only the batch's one new hold was written.
SELECT * FROM pg_temp.since('stored');

-- ---------------------------------------------------------------- NULL elements and invalid values

SELECT count(*) FROM ledger_create_wallet('batch-v');
SELECT amount, balance FROM ledger_credit('batch-v', 100, 'fund');
SELECT pg_temp.mark('invalid');
-- A NULL element (22004) or an invalid value (22023) refuses its element
-- only; a NULL metadata element means no metadata (element 5 succeeds, as
-- does the last one).
INSERT INTO rows SELECT 'invalid', * FROM ledger_reserve_batch(
    ARRAY[NULL, 'batch-v', 'batch-v', 'batch-v', 'batch-v', 'batch-v', 'batch-v', 'batch-v',
          'batch-v', 'batch-v', 'bad wallet', 'batch//v', repeat('w', 201), 'batch-v', 'batch-v',
          'batch-v', 'batch-v', 'batch-v', 'batch-v'],
    ARRAY[1, NULL, 1, 1, 1, 0, -5, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2],
    ARRAY['1h', '1h', NULL, '1h', '1h', '1h', '1h', '0', '-1 second', '25 hours', '1h', '1h', '1h',
          '1h', '1h', '1h', '1h', '1h', '1h']::interval[],
    ARRAY['v1', 'v2', 'v3', NULL, 'v5', 'v6', 'v7', 'v8', 'v9', 'v10', 'v11', 'v12', 'v13', '',
          repeat('k', 256), 'v16', 'v17', 'v18', 'v19'],
    ARRAY[NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
          NULL, '[1]', '"text"', jsonb_build_object('pad', repeat('x', 8200)), '{"ok": true}']::jsonb[])
  RETURNING batch, ordinal, sqlstate, message, seq, kind, amount, available, replayed;
SELECT * FROM pg_temp.since('invalid');
SELECT * FROM pg_temp.hist('batch-v');
-- A refused element's row has no result columns.
SELECT count(*) AS refused_rows,
       bool_and(message IS NOT NULL) AS with_message,
       bool_and(num_nulls(seq, kind, reservation_id, amount, balance, reserved, available,
                          expires_at, at, replayed) = 10) AS without_result
  FROM rows WHERE batch = 'invalid' AND sqlstate <> '00000';
-- Boundary values are valid: a key of 255 characters, a ttl of exactly
-- baseledger.max_ttl, metadata of the largest size.
-- (The hold of 1 microsecond lapses at once: the next write on batch-v
-- expires it.)
INSERT INTO rows SELECT 'bounds', * FROM ledger_reserve_batch(
    ARRAY['batch-v', 'batch-v'], ARRAY[1, 1], ARRAY['24 hours', '1 microsecond']::interval[],
    ARRAY[repeat('k', 255), 'v-micro'])
  RETURNING batch, ordinal, sqlstate, message, amount, expires_at - at AS ttl;
INSERT INTO rows SELECT 'bounds-meta', * FROM ledger_reserve_batch(
    ARRAY['batch-v', 'batch-v'], ARRAY[1, 1], ARRAY['1h', '1h']::interval[],
    ARRAY['v-big', 'v-too-big'],
    ARRAY[jsonb_build_object('pad', repeat('x', 8192 - 11)),
          jsonb_build_object('pad', repeat('x', 8192 - 10))])
  RETURNING batch, ordinal, sqlstate, message, amount;
SELECT idempotency_key, octet_length(metadata::text) AS metadata_bytes
  FROM ledger.events WHERE wallet_id = 'batch-v' AND idempotency_key LIKE 'v-%big' ORDER BY 1;
-- baseledger.max_ttl applies to batches too.
SET baseledger.max_ttl = '2h';
INSERT INTO rows SELECT 'max-ttl', * FROM ledger_reserve_batch(
    ARRAY['batch-v', 'batch-v'], ARRAY[1, 1], ARRAY['2 hours', '2 hours 1 second']::interval[],
    ARRAY['v-max', 'v-over-max'])
  RETURNING batch, ordinal, sqlstate, message, amount, expires_at - at AS ttl;
RESET baseledger.max_ttl;

-- The settle batch: NULL wallet, reservation, amount or key; a negative
-- capture. A capture of 0 is valid and releases the whole hold.
SELECT pg_temp.mark('invalid-settle');
INSERT INTO rows SELECT 'invalid-settle', * FROM ledger_settle_batch(
    ARRAY[NULL, 'batch-v', 'batch-v', 'batch-v', 'batch-v', 'batch-v'],
    ARRAY[pg_temp.rid('invalid', 5), NULL, pg_temp.rid('invalid', 5), pg_temp.rid('invalid', 5),
          pg_temp.rid('invalid', 5), pg_temp.rid('invalid', 5)],
    ARRAY[0, 0, NULL, 0, -1, 0],
    ARRAY['s1', 's2', 's3', NULL, 's5', 's6'])
  RETURNING batch, ordinal, sqlstate, message, seq, kind, amount, balance, reserved, available, replayed;
SELECT * FROM pg_temp.since('invalid-settle');
-- The 1 microsecond hold was expired by the write that followed it.
SELECT seq, kind, amount, left(idempotency_key, 8) AS key, balance, reserved,
       octet_length(metadata::text) AS metadata_bytes
  FROM ledger_history('batch-v') ORDER BY seq;

-- ---------------------------------------------------------------- metadata arrays

SELECT count(*) FROM ledger_create_wallet('batch-meta');
SELECT amount, balance FROM ledger_credit('batch-meta', 100, 'fund');
INSERT INTO rows SELECT 'meta', * FROM ledger_reserve_batch(
    ARRAY['batch-meta', 'batch-meta', 'batch-meta'], ARRAY[10, 20, 30],
    ARRAY['1h', '1h', '1h']::interval[], ARRAY['m1', 'm2', 'm3'],
    ARRAY['{"job": 1, "model": "large"}', NULL, '{"job": 3}']::jsonb[])
  RETURNING batch, ordinal, sqlstate, seq, amount, reserved;
INSERT INTO rows SELECT 'meta-settle', * FROM ledger_settle_batch(
    ARRAY['batch-meta', 'batch-meta', 'batch-meta'],
    ARRAY[pg_temp.rid('meta', 1), pg_temp.rid('meta', 2), pg_temp.rid('meta', 3)],
    ARRAY[5, 20, 0], ARRAY['ms1', 'ms2', 'ms3'],
    ARRAY[NULL, '{"tokens": 1234}', '{"why": "unused"}']::jsonb[])
  RETURNING batch, ordinal, sqlstate, seq, amount, balance, reserved;
SELECT * FROM pg_temp.hist('batch-meta');
-- Metadata is part of the request: the retry must carry the same.
INSERT INTO rows SELECT 'meta-settle#1', * FROM ledger_settle_batch(
    ARRAY['batch-meta', 'batch-meta', 'batch-meta'],
    ARRAY[pg_temp.rid('meta', 1), pg_temp.rid('meta', 2), pg_temp.rid('meta', 3)],
    ARRAY[5, 20, 0], ARRAY['ms1', 'ms2', 'ms3'],
    ARRAY[NULL, '{"tokens": 1234}', '{"why": "other"}']::jsonb[])
  RETURNING batch, ordinal, sqlstate, message, seq, replayed;
-- Without a metadata array no element has metadata.
INSERT INTO rows SELECT 'meta-settle#2', * FROM ledger_settle_batch(
    ARRAY['batch-meta', 'batch-meta'], ARRAY[pg_temp.rid('meta', 1), pg_temp.rid('meta', 2)],
    ARRAY[5, 20], ARRAY['ms1', 'ms2'])
  RETURNING batch, ordinal, sqlstate, message, seq, replayed;

-- ---------------------------------------------------------------- settle the holds of a reserve batch

SELECT count(*) FROM ledger_create_wallet('batch-s1');
SELECT count(*) FROM ledger_create_wallet('batch-s2');
SELECT amount, balance FROM ledger_credit('batch-s1', 1000, 'fund');
SELECT amount, balance FROM ledger_credit('batch-s2', 1000, 'fund');
INSERT INTO rows SELECT 'holds', * FROM ledger_reserve_batch(
    ARRAY['batch-s1', 'batch-s1', 'batch-s2', 'batch-s1', 'batch-s2'],
    ARRAY[100, 200, 300, 400, 500],
    ARRAY['1h', '1h', '1h', '1h', '1h']::interval[],
    ARRAY['h1', 'h2', 'h3', 'h4', 'h5'])
  RETURNING batch, ordinal, sqlstate, wallet_id, seq, amount, balance, reserved, available;
-- The holds, captured for the settle batch.
CREATE TEMP TABLE holds AS
  SELECT ordinal AS hold, wallet_id, reservation_id, amount FROM rows WHERE batch = 'holds';
SELECT pg_temp.mark('settle');
-- 1: all of h1; 2: part of h2; 3: nothing of h3; 4: more than h4 holds
-- (LB006); 5: h5 named under the wrong wallet (LB003); 6: an unknown
-- reservation (LB003); 7: h2 again under a new key (LB004); 8: element 2's
-- key and arguments (replay); 9: element 1's key with another capture
-- (LB007); 10: h4 within its hold; 11: h5 in its wallet.
INSERT INTO rows SELECT 'settle', * FROM ledger_settle_batch(
    ARRAY['batch-s1', 'batch-s1', 'batch-s2', 'batch-s1', 'batch-s1', 'batch-s1', 'batch-s1',
          'batch-s1', 'batch-s1', 'batch-s1', 'batch-s2'],
    (SELECT array_agg(coalesce(reservation_id, '00000000-0000-4000-8000-000000000001') ORDER BY o)
       FROM unnest(ARRAY[1, 2, 3, 4, 5, 0, 2, 2, 1, 4, 5]) WITH ORDINALITY AS u(h, o)
       LEFT JOIN holds ON hold = h),
    ARRAY[100, 150, 0, 401, 500, 1, 200, 150, 99, 400, 250],
    ARRAY['c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7', 'c2', 'c1', 'c10', 'c11'])
  RETURNING batch, ordinal, sqlstate, message, wallet_id, seq, kind, amount, balance, reserved,
            available, replayed;
SELECT * FROM pg_temp.since('settle');
SELECT h.hold, r.state, r.amount, r.captured
  FROM holds h CROSS JOIN ledger_reservation(h.wallet_id, h.reservation_id) r ORDER BY h.hold;
SELECT * FROM pg_temp.bal('batch-s1');
SELECT * FROM pg_temp.bal('batch-s2');
-- The whole settle batch again: successes replay, refusals repeat.
SELECT pg_temp.mark('settle#1');
INSERT INTO rows SELECT 'settle#1', * FROM ledger_settle_batch(
    ARRAY['batch-s1', 'batch-s1', 'batch-s2', 'batch-s1', 'batch-s1', 'batch-s1', 'batch-s1',
          'batch-s1', 'batch-s1', 'batch-s1', 'batch-s2'],
    (SELECT array_agg(coalesce(reservation_id, '00000000-0000-4000-8000-000000000001') ORDER BY o)
       FROM unnest(ARRAY[1, 2, 3, 4, 5, 0, 2, 2, 1, 4, 5]) WITH ORDINALITY AS u(h, o)
       LEFT JOIN holds ON hold = h),
    ARRAY[100, 150, 0, 401, 500, 1, 200, 150, 99, 400, 250],
    ARRAY['c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7', 'c2', 'c1', 'c10', 'c11']);
SELECT r.ordinal, r.sqlstate, r.message, r.replayed
  FROM rows r WHERE r.batch = 'settle#1' ORDER BY r.ordinal;
SELECT * FROM pg_temp.same_rows('settle', 'settle#1') WHERE sqlstate = '00000';
SELECT * FROM pg_temp.since('settle#1');

-- ---------------------------------------------------------------- expired holds

SELECT count(*) FROM ledger_create_wallet('batch-exp');
SELECT amount, balance FROM ledger_credit('batch-exp', 100, 'fund');
INSERT INTO rows SELECT 'exp', * FROM ledger_reserve_batch(
    ARRAY['batch-exp', 'batch-exp', 'batch-exp'], ARRAY[40, 30, 20],
    ARRAY['10 seconds', '1 hour', '10 seconds']::interval[], ARRAY['e1', 'e2', 'e3'])
  RETURNING batch, ordinal, sqlstate, seq, amount, reserved, available, expires_at - at AS ttl;
-- 11 seconds later e1 and e3 have lapsed: they no longer count, before any
-- sweep and before any event.
SET baseledger.clock_offset = '11s';
SELECT * FROM pg_temp.bal('batch-exp');
SELECT pg_temp.mark('exp-settle');
-- The first element settles lapsed e1: LB005, and it writes no expire
-- event. The second settles e2: that write first expires e1 and e3, in
-- expiry order. The third settles e3, expired by then: LB005 again.
INSERT INTO rows SELECT 'exp-settle', * FROM ledger_settle_batch(
    ARRAY['batch-exp', 'batch-exp', 'batch-exp'],
    ARRAY[pg_temp.rid('exp', 1), pg_temp.rid('exp', 2), pg_temp.rid('exp', 3)],
    ARRAY[40, 25, 20], ARRAY['es1', 'es2', 'es3'])
  RETURNING batch, ordinal, sqlstate, message, seq, kind, amount, balance, reserved, available;
SELECT * FROM pg_temp.since('exp-settle');
SELECT * FROM pg_temp.hist('batch-exp');
SELECT h.ordinal, r.state, r.captured
  FROM rows h CROSS JOIN ledger_reservation(h.wallet_id, h.reservation_id) r
 WHERE h.batch = 'exp' ORDER BY h.ordinal;
-- Nothing is left for the sweep; a second batch writes no second expire event.
INSERT INTO rows SELECT 'exp-settle#1', * FROM ledger_settle_batch(
    ARRAY['batch-exp'], ARRAY[pg_temp.rid('exp', 1)], ARRAY[0], ARRAY['es4'])
  RETURNING batch, ordinal, sqlstate, message;
SELECT count(*) AS expire_events FROM ledger.events WHERE wallet_id = 'batch-exp' AND kind = 'expire';

-- A reserve batch whose first element on a wallet is refused: the next
-- successful element writes the expire event, and the funds it released
-- count for that element.
RESET baseledger.clock_offset;
SELECT count(*) FROM ledger_create_wallet('batch-exp2');
SELECT amount, balance FROM ledger_credit('batch-exp2', 100, 'fund');
SELECT amount, reserved, available FROM ledger_reserve('batch-exp2', 70, '10 seconds', 'lapses');
SET baseledger.clock_offset = '11s';
INSERT INTO rows SELECT 'exp2', * FROM ledger_reserve_batch(
    ARRAY['batch-exp2', 'batch-exp2', 'batch-exp2'], ARRAY[101, 100, 1],
    ARRAY['1h', '1h', '1h']::interval[], ARRAY['x1', 'x2', 'x3'])
  RETURNING batch, ordinal, sqlstate, message, seq, kind, amount, balance, reserved, available;
SELECT * FROM pg_temp.hist('batch-exp2');
SELECT count(*) AS expire_events FROM ledger.events WHERE wallet_id = 'batch-exp2' AND kind = 'expire';
RESET baseledger.clock_offset;

-- ---------------------------------------------------------------- call-level errors

-- These abort the whole call: no rows, nothing written, whatever the
-- elements. The elements below would all be valid.
SELECT pg_temp.mark('call-level');
SELECT call, pg_temp.try(q) AS result FROM (VALUES
  ('reserve: wallet_ids NULL',
   $$SELECT * FROM ledger_reserve_batch(NULL, ARRAY[1], ARRAY['1h']::interval[], ARRAY['c'])$$),
  ('reserve: amounts NULL',
   $$SELECT * FROM ledger_reserve_batch(ARRAY['batch-a'], NULL, ARRAY['1h']::interval[], ARRAY['c'])$$),
  ('reserve: ttls NULL',
   $$SELECT * FROM ledger_reserve_batch(ARRAY['batch-a'], ARRAY[1], NULL, ARRAY['c'])$$),
  ('reserve: idempotency_keys NULL',
   $$SELECT * FROM ledger_reserve_batch(ARRAY['batch-a'], ARRAY[1], ARRAY['1h']::interval[], NULL)$$),
  ('reserve: amounts longer',
   $$SELECT * FROM ledger_reserve_batch(ARRAY['batch-a'], ARRAY[1, 2], ARRAY['1h']::interval[], ARRAY['c'])$$),
  ('reserve: ttls longer',
   $$SELECT * FROM ledger_reserve_batch(ARRAY['batch-a'], ARRAY[1], ARRAY['1h', '1h']::interval[], ARRAY['c'])$$),
  ('reserve: idempotency_keys longer',
   $$SELECT * FROM ledger_reserve_batch(ARRAY['batch-a'], ARRAY[1], ARRAY['1h']::interval[], ARRAY['c', 'd'])$$),
  ('reserve: metadata shorter',
   $$SELECT * FROM ledger_reserve_batch(ARRAY['batch-a', 'batch-a'], ARRAY[1, 1], ARRAY['1h', '1h']::interval[], ARRAY['c', 'd'], ARRAY['{}']::jsonb[])$$),
  ('reserve: metadata empty',
   $$SELECT * FROM ledger_reserve_batch(ARRAY['batch-a'], ARRAY[1], ARRAY['1h']::interval[], ARRAY['c'], '{}'::jsonb[])$$),
  ('reserve: all two-dimensional',
   $$SELECT * FROM ledger_reserve_batch('{{batch-a}}', '{{1}}', '{{1h}}', '{{c}}')$$),
  ('reserve: amounts two-dimensional',
   $$SELECT * FROM ledger_reserve_batch(ARRAY['batch-a'], '{{1}}', ARRAY['1h']::interval[], ARRAY['c'])$$),
  ('reserve: metadata two-dimensional',
   $$SELECT * FROM ledger_reserve_batch(ARRAY['batch-a'], ARRAY[1], ARRAY['1h']::interval[], ARRAY['c'], '{{"{}"}}'::jsonb[])$$),
  ('settle: wallet_ids NULL',
   $$SELECT * FROM ledger_settle_batch(NULL, ARRAY[gen_random_uuid()], ARRAY[1], ARRAY['c'])$$),
  ('settle: reservation_ids NULL',
   $$SELECT * FROM ledger_settle_batch(ARRAY['batch-a'], NULL, ARRAY[1], ARRAY['c'])$$),
  ('settle: amounts NULL',
   $$SELECT * FROM ledger_settle_batch(ARRAY['batch-a'], ARRAY[gen_random_uuid()], NULL, ARRAY['c'])$$),
  ('settle: idempotency_keys NULL',
   $$SELECT * FROM ledger_settle_batch(ARRAY['batch-a'], ARRAY[gen_random_uuid()], ARRAY[1], NULL)$$),
  ('settle: reservation_ids longer',
   $$SELECT * FROM ledger_settle_batch(ARRAY['batch-a'], ARRAY[gen_random_uuid(), gen_random_uuid()], ARRAY[1], ARRAY['c'])$$),
  ('settle: metadata longer',
   $$SELECT * FROM ledger_settle_batch(ARRAY['batch-a'], ARRAY[gen_random_uuid()], ARRAY[1], ARRAY['c'], ARRAY[NULL, NULL]::jsonb[])$$),
  ('settle: all two-dimensional',
   $$SELECT * FROM ledger_settle_batch('{{batch-a}}', ARRAY[[gen_random_uuid()]], '{{1}}', '{{c}}')$$)
) AS t(call, q);
-- 10,000 elements is the limit; one more aborts the call.
SELECT pg_temp.try(format($$SELECT * FROM ledger_reserve_batch(
    array_fill('batch-a'::text, ARRAY[%1$s]), array_fill(1::bigint, ARRAY[%1$s]),
    array_fill('1h'::interval, ARRAY[%1$s]),
    ARRAY(SELECT 'big-' || i FROM generate_series(1, %1$s) i))$$, 10001)) AS too_many;
SELECT pg_temp.try(format($$SELECT * FROM ledger_settle_batch(
    array_fill('batch-a'::text, ARRAY[%1$s]),
    array_fill('00000000-0000-4000-8000-000000000001'::uuid, ARRAY[%1$s]),
    array_fill(1::bigint, ARRAY[%1$s]),
    ARRAY(SELECT 'big-' || i FROM generate_series(1, %1$s) i))$$, 10001)) AS too_many;
-- Exactly 10,000 is accepted (here every element names a missing wallet).
SELECT sqlstate, count(*), min(ordinal), max(ordinal)
  FROM ledger_reserve_batch(array_fill('batch-none'::text, ARRAY[10000]),
                            array_fill(1::bigint, ARRAY[10000]),
                            array_fill('1h'::interval, ARRAY[10000]),
                            ARRAY(SELECT 'big-' || i FROM generate_series(1, 10000) i))
 GROUP BY sqlstate;
-- Empty arrays: no elements, no rows.
SELECT count(*) AS rows FROM ledger_reserve_batch('{}', '{}', '{}', '{}');
SELECT count(*) AS rows FROM ledger_reserve_batch('{}', '{}', '{}', '{}', '{}');
SELECT count(*) AS rows FROM ledger_settle_batch('{}', '{}', '{}', '{}');
SELECT * FROM pg_temp.since('call-level');

-- ---------------------------------------------------------------- transactions

-- A batch is part of its caller's transaction: rolled back, it leaves nothing.
SELECT pg_temp.mark('rollback');
BEGIN;
SELECT ordinal, sqlstate, seq, kind, amount FROM ledger_reserve_batch(
    ARRAY['batch-s1', 'batch-s2', 'batch-s1'], ARRAY[1, 1, 1],
    ARRAY['1h', '1h', '1h']::interval[], ARRAY['t1', 't2', 't3']);
-- Until then it holds the lock of each of its wallets, once.
SELECT count(*) AS wallet_locks FROM pg_locks
 WHERE locktype = 'advisory' AND objsubid = 19522 AND pid = pg_backend_pid();
ROLLBACK;
SELECT * FROM pg_temp.since('rollback');
-- The keys are free again after the rollback.
INSERT INTO rows SELECT 'after-rollback', * FROM ledger_reserve_batch(
    ARRAY['batch-s1'], ARRAY[2], ARRAY['1h']::interval[], ARRAY['t1'])
  RETURNING batch, ordinal, sqlstate, seq, kind, amount, replayed;

-- ---------------------------------------------------------------- a batch of 1,000 over 100 wallets

-- Each wallet gets 1000; its ten elements ask for 100, 110, ..., 190 in
-- turn: the first seven fit (910), the last three no longer do.
DO $$
BEGIN
  FOR i IN 0..99 LOOP
    PERFORM ledger.ledger_create_wallet('batch-big-' || i);
    PERFORM ledger.ledger_credit('batch-big-' || i, 1000, 'fund');
  END LOOP;
END $$;
SELECT pg_temp.mark('big');
CREATE TEMP TABLE big AS
  SELECT * FROM ledger_reserve_batch(
    ARRAY(SELECT 'batch-big-' || (i % 100) FROM generate_series(0, 999) i ORDER BY i),
    ARRAY(SELECT 100 + (i / 100) * 10 FROM generate_series(0, 999) i ORDER BY i)::bigint[],
    ARRAY(SELECT interval '1 hour' FROM generate_series(0, 999) i),
    ARRAY(SELECT 'big-' || i FROM generate_series(0, 999) i ORDER BY i));
SELECT count(*) AS rows, min(ordinal), max(ordinal), count(DISTINCT ordinal) AS distinct_ordinals,
       count(DISTINCT wallet_id) AS wallets
  FROM big;
SELECT sqlstate, message, count(*), sum(amount) AS held, min(seq), max(seq),
       count(DISTINCT reservation_id) AS reservations
  FROM big GROUP BY sqlstate, message ORDER BY sqlstate;
-- Per wallet: elements 1-7 succeeded with seq 2-8, elements 8-10 did not.
SELECT count(*) AS wallets_as_expected FROM (
  SELECT wallet_id,
         array_agg(sqlstate ORDER BY ordinal) AS states,
         array_agg(seq ORDER BY ordinal) FILTER (WHERE sqlstate = '00000') AS seqs,
         max(reserved) AS reserved, min(available) AS available
    FROM big GROUP BY wallet_id) w
 WHERE states = ARRAY['00000', '00000', '00000', '00000', '00000', '00000', '00000',
                      'LB001', 'LB001', 'LB001']
   AND seqs = ARRAY[2, 3, 4, 5, 6, 7, 8]::bigint[] AND reserved = 910 AND available = 90;
SELECT * FROM pg_temp.since('big');
SELECT count(*) AS wallets, sum(b.balance) AS balance, sum(b.reserved) AS reserved,
       sum(b.available) AS available, sum(b.active_reservations) AS holds,
       min(b.last_seq), max(b.last_seq)
  FROM ledger.wallets w, pg_temp.bal(w.wallet_id) b WHERE w.wallet_id LIKE 'batch-big-%';
-- Settle all 700 holds, capturing half of each, in reverse order.
CREATE TEMP TABLE big_settle AS
  SELECT * FROM ledger_settle_batch(
    ARRAY(SELECT wallet_id FROM big WHERE sqlstate = '00000' ORDER BY ordinal DESC),
    ARRAY(SELECT reservation_id FROM big WHERE sqlstate = '00000' ORDER BY ordinal DESC),
    ARRAY(SELECT amount / 2 FROM big WHERE sqlstate = '00000' ORDER BY ordinal DESC),
    ARRAY(SELECT 'settle-' || ordinal FROM big WHERE sqlstate = '00000' ORDER BY ordinal DESC));
SELECT sqlstate, count(*), sum(amount) AS captured, min(seq), max(seq) FROM big_settle GROUP BY sqlstate;
SELECT count(*) AS wallets, sum(b.balance) AS balance, sum(b.reserved) AS reserved,
       sum(b.available) AS available, sum(b.active_reservations) AS holds,
       min(b.last_seq), max(b.last_seq)
  FROM ledger.wallets w, pg_temp.bal(w.wallet_id) b WHERE w.wallet_id LIKE 'batch-big-%';
SELECT * FROM pg_temp.since('big');

-- ---------------------------------------------------------------- the ledger is exact

-- Every event with a key is a successful, non-replayed element, each
-- claimed by one row, or a single call of this file (the credits, one
-- cancel, two reserves); refused elements wrote nothing.
SELECT count(*) AS batch_writes, count(DISTINCT (wallet_id, seq)) AS distinct_events
  FROM (SELECT wallet_id, seq FROM rows WHERE sqlstate = '00000' AND NOT replayed
        UNION ALL SELECT wallet_id, seq FROM big WHERE sqlstate = '00000'
        UNION ALL SELECT wallet_id, seq FROM big_settle WHERE sqlstate = '00000') w;
SELECT count(*) AS keyed_events,
       count(*) FILTER (WHERE from_batch) AS from_batches,
       count(*) FILTER (WHERE NOT from_batch AND kind = 'credit' AND idempotency_key = 'fund')
         AS fund_credits,
       string_agg(kind || ' ' || idempotency_key, ', ' ORDER BY idempotency_key)
         FILTER (WHERE NOT from_batch AND idempotency_key <> 'fund') AS single_calls
  FROM (SELECT e.kind::text AS kind, e.idempotency_key,
               EXISTS (SELECT FROM rows r WHERE r.wallet_id = e.wallet_id AND r.seq = e.seq
                         AND r.sqlstate = '00000' AND NOT r.replayed)
               OR EXISTS (SELECT FROM big r WHERE r.wallet_id = e.wallet_id AND r.seq = e.seq
                            AND r.sqlstate = '00000')
               OR EXISTS (SELECT FROM big_settle r WHERE r.wallet_id = e.wallet_id
                            AND r.seq = e.seq AND r.sqlstate = '00000') AS from_batch
          FROM ledger.events e WHERE e.idempotency_key IS NOT NULL) k;
-- Each lapsed hold got one expire event, and nothing else wrote an event
-- without a key.
SELECT kind, count(*) FROM ledger.events WHERE idempotency_key IS NULL GROUP BY kind;
SELECT kind, count(*) FROM ledger.events GROUP BY kind ORDER BY kind;
SELECT * FROM ledger_verify();
-- A refused row names its wallet whichever of its other arguments is NULL.
SELECT ordinal, sqlstate, wallet_id FROM ledger_reserve_batch(
  ARRAY['w', 'w'], ARRAY[NULL, 1]::bigint[], ARRAY['1h', NULL]::interval[], ARRAY['a', 'b']);
SELECT ordinal, sqlstate, wallet_id FROM ledger_settle_batch(
  ARRAY['w'], ARRAY[NULL]::uuid[], ARRAY[1]::bigint[], ARRAY['c']);
