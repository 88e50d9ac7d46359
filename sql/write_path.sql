-- The write path writes a call's rows below SPI in READ COMMITTED (and
-- through SQL statements under REPEATABLE READ and SERIALIZABLE). Whichever
-- way a row is written, the table's constraints hold (including ones added
-- or dropped after the backend first wrote), triggers fire, and a call sees
-- the earlier calls of its own transaction.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS baseledger CASCADE;
CREATE EXTENSION baseledger;
DROP TABLE IF EXISTS public.write_path_seen;
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

SELECT ledger_create_wallet('wp-a') IS NOT NULL AS created;
-- This backend writes to every table once before the constraints change.
SELECT (ledger_credit('wp-a', 1000, 'c1')).balance;
SELECT (ledger_reserve('wp-a', 10, '1 min', 'r0')).amount;

-- A CHECK constraint added to a table applies to the next write, in every table.
ALTER TABLE ledger.events ADD CONSTRAINT wp_no_600 CHECK (amount <> 600);
SELECT pg_temp.try($$SELECT ledger_reserve('wp-a', 600, '1 min', 'r1')$$);
ALTER TABLE ledger.reservations ADD CONSTRAINT wp_no_601 CHECK (amount <> 601);
SELECT pg_temp.try($$SELECT ledger_reserve('wp-a', 601, '1 min', 'r1')$$);
ALTER TABLE ledger.wallets ADD CONSTRAINT wp_reserved_below_600 CHECK (reserved < 600);
SELECT pg_temp.try($$SELECT ledger_reserve('wp-a', 602, '1 min', 'r1')$$);
-- Nothing of the refused calls was written.
SELECT count(*) AS events, max(seq) AS last_seq FROM ledger.events WHERE wallet_id = 'wp-a';
SELECT reserved, last_seq FROM ledger.wallets WHERE wallet_id = 'wp-a';
-- Once dropped, they no longer apply.
ALTER TABLE ledger.events DROP CONSTRAINT wp_no_600;
ALTER TABLE ledger.reservations DROP CONSTRAINT wp_no_601;
ALTER TABLE ledger.wallets DROP CONSTRAINT wp_reserved_below_600;
SELECT (ledger_reserve('wp-a', 600, '1 min', 'r1')).amount;

-- A trigger on a ledger table fires for the rows the calls write.
CREATE TABLE public.write_path_seen (tbl text, what text);
CREATE FUNCTION pg_temp.note() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO public.write_path_seen
  VALUES (TG_TABLE_NAME, TG_OP || coalesce(' ' || (to_jsonb(NEW) ->> 'kind'), ''));
  RETURN NEW;
END $$;
CREATE TRIGGER wp_note AFTER INSERT ON ledger.events FOR EACH ROW EXECUTE FUNCTION pg_temp.note();
CREATE TRIGGER wp_note AFTER INSERT OR UPDATE ON ledger.reservations
  FOR EACH ROW EXECUTE FUNCTION pg_temp.note();
CREATE TRIGGER wp_note AFTER UPDATE ON ledger.wallets FOR EACH ROW EXECUTE FUNCTION pg_temp.note();
SELECT (ledger_reserve('wp-a', 5, '1 min', 'r2')).amount AS held \gset
SELECT (ledger_settle('wp-a', reservation_id, 3, 's2')).balance
  FROM ledger.reservations WHERE wallet_id = 'wp-a' AND amount = 5;
SELECT tbl, what, count(*) FROM public.write_path_seen GROUP BY 1, 2 ORDER BY 1, 2;
DROP TRIGGER wp_note ON ledger.events;
DROP TRIGGER wp_note ON ledger.reservations;
DROP TRIGGER wp_note ON ledger.wallets;
DROP TABLE public.write_path_seen;

-- Calls in one transaction see each other, in READ COMMITTED and under
-- REPEATABLE READ: the second reserve counts the first's hold, the settle
-- finds the hold reserved just before it.
SELECT ledger_create_wallet('wp-b') IS NOT NULL AS created;
SELECT (ledger_credit('wp-b', 100, 'c1')).balance;
BEGIN;
SELECT (ledger_reserve('wp-b', 30, '1 min', 'r1')).available AS after_first,
       (ledger_reserve('wp-b', 30, '1 min', 'r2')).available AS after_second;
SELECT pg_temp.try($$SELECT ledger_reserve('wp-b', 41, '1 min', 'r3')$$);
SELECT (ledger_settle('wp-b', reservation_id, 10, 's1')).available
  FROM ledger.reservations WHERE wallet_id = 'wp-b' AND state = 'active'
  ORDER BY created_at LIMIT 1;
COMMIT;
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT (ledger_reserve('wp-b', 20, '1 min', 'r4')).available AS after_first,
       (ledger_reserve('wp-b', 20, '1 min', 'r5')).available AS after_second;
SELECT pg_temp.try($$SELECT ledger_reserve('wp-b', 21, '1 min', 'r6')$$);
SELECT (ledger_cancel('wp-b', reservation_id, 'x1')).available
  FROM ledger.reservations WHERE wallet_id = 'wp-b' AND state = 'active'
  ORDER BY created_at LIMIT 1;
COMMIT;
SELECT balance, reserved, active_reservations, last_seq FROM ledger.wallets WHERE wallet_id = 'wp-b';
SELECT seq, kind, amount, balance, reserved FROM ledger.events WHERE wallet_id = 'wp-b' ORDER BY seq;
SELECT * FROM ledger_verify();

-- The two ways of writing give the same rows: the same tree writes (batches
-- over a wallet tree, a hold expired by the next write, a flat batch) in
-- READ COMMITTED on the tree "rc" and under REPEATABLE READ on "rr".
CREATE FUNCTION pg_temp.tree_writes(p text) RETURNS SETOF text
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM ledger_create_wallet(p);
  PERFORM ledger_create_wallet(p || '/t');
  PERFORM ledger_create_wallet(p || '/t/a');
  PERFORM ledger_create_wallet(p || '-flat');
  PERFORM ledger_credit(p || w, 1000, 'c' || w) FROM unnest(ARRAY['', '/t', '/t/a', '-flat']) w;
  RETURN QUERY SELECT ordinal || ' ' || sqlstate FROM ledger_reserve_batch(
    ARRAY[p || '/t/a', p || '/t/a', p, p || '/t/a', p || '-flat', p || '-flat'],
    ARRAY[10, 20, 30, 5000, 40, 50]::bigint[],
    ARRAY['1 min', '1 min', '1 min', '1 min', '1 min', '1 min']::interval[],
    ARRAY['b1', 'b2', 'b3', 'b4', 'b5', 'b6']);
  PERFORM ledger_reserve(p || '/t/a', 5, '1 second', 'short');
END $$;
CREATE FUNCTION pg_temp.later_writes(p text) RETURNS SETOF text LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY SELECT ordinal || ' ' || sqlstate FROM ledger_settle_batch(
    ARRAY[p || '/t/a', p || '-flat'],
    ARRAY[(SELECT reservation_id FROM ledger.reservations WHERE wallet_id = p || '/t/a' AND amount = 10),
          (SELECT reservation_id FROM ledger.reservations WHERE wallet_id = p || '-flat' AND amount = 40)],
    ARRAY[7, 40]::bigint[], ARRAY['s1', 's2']);
  PERFORM ledger_cancel(p || '/t/a', (SELECT reservation_id FROM ledger.reservations
                                       WHERE wallet_id = p || '/t/a' AND amount = 20), 'x1');
END $$;
BEGIN;
SELECT pg_temp.tree_writes('rc');
COMMIT;
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT pg_temp.tree_writes('rr');
COMMIT;
-- The 1-second holds lapse; the next writes in each tree expire them first.
SET baseledger.clock_offset = '10s';
BEGIN;
SELECT pg_temp.later_writes('rc');
COMMIT;
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT pg_temp.later_writes('rr');
COMMIT;
RESET baseledger.clock_offset;
CREATE VIEW pg_temp.tree_events AS
  SELECT left(wallet_id, 2) AS tree, substr(wallet_id, 3) AS wallet, seq, kind, amount, balance,
         reserved, idempotency_key, substr(origin_wallet_id, 3) AS origin,
         (SELECT amount FROM ledger.reservations r
           WHERE r.reservation_id = e.reservation_id) AS hold
  FROM ledger.events e WHERE wallet_id ~ '^r[cr]($|/|-)';
-- Rows of one tree missing from the other: none.
SELECT count(*) AS differing FROM (
  (SELECT wallet, seq, kind, amount, balance, reserved, idempotency_key, origin, hold
     FROM pg_temp.tree_events WHERE tree = 'rc'
   EXCEPT SELECT wallet, seq, kind, amount, balance, reserved, idempotency_key, origin, hold
     FROM pg_temp.tree_events WHERE tree = 'rr')
  UNION ALL
  (SELECT wallet, seq, kind, amount, balance, reserved, idempotency_key, origin, hold
     FROM pg_temp.tree_events WHERE tree = 'rr'
   EXCEPT SELECT wallet, seq, kind, amount, balance, reserved, idempotency_key, origin, hold
     FROM pg_temp.tree_events WHERE tree = 'rc')) d;
SELECT wallet, seq, kind, amount, balance, reserved, idempotency_key AS key, origin, hold
  FROM pg_temp.tree_events WHERE tree = 'rc' ORDER BY wallet, seq;
SELECT substr(wallet_id, 3) AS wallet, state, amount, captured,
       count(*) FILTER (WHERE left(wallet_id, 2) = 'rc') AS rc,
       count(*) FILTER (WHERE left(wallet_id, 2) = 'rr') AS rr
  FROM ledger.reservations WHERE wallet_id ~ '^r[cr]($|/|-)'
  GROUP BY 1, 2, 3, 4 ORDER BY 1, 3;
SELECT substr(wallet_id, 3) AS wallet, balance, reserved, active_reservations, last_seq,
       count(*) AS trees
  FROM ledger.wallets WHERE wallet_id ~ '^r[cr]($|/|-)' GROUP BY 1, 2, 3, 4, 5 ORDER BY 1;
SELECT * FROM ledger_verify();

-- A write looks for its tree's lapsed holds only once the root's next_expiry
-- has passed. Every hold reserved, or extended to a nearer expiry, lowers it,
-- so the next write after a hold lapses still expires it first: on a flat
-- wallet, after an extend, in a tree, in a batch.
SELECT ledger_create_wallet(w) IS NOT NULL AS created, (ledger_credit(w, 1000, 'c')).balance
  FROM unnest(ARRAY['ne-flat', 'ne-ext', 'ne-tree', 'ne-batch']) w;
SELECT ledger_create_wallet('ne-tree/a') IS NOT NULL AS created,
       (ledger_credit('ne-tree/a', 1000, 'c')).balance;
SELECT (ledger_reserve('ne-flat', 10, '1 hour', 'long')).amount;
SELECT next_expiry > now() + interval '50 minutes' AS an_hour_away
  FROM ledger.wallets WHERE wallet_id = 'ne-flat';
SELECT (ledger_reserve('ne-flat', 5, '1 second', 'short')).amount;
SELECT next_expiry < now() + interval '1 minute' AS lowered
  FROM ledger.wallets WHERE wallet_id = 'ne-flat';
SELECT (ledger_reserve('ne-ext', 10, '1 hour', 'long')).reservation_id AS ext_hold \gset
SELECT (ledger_reserve('ne-ext', 20, '1 hour', 'long2')).amount;
SELECT (ledger_extend('ne-ext', :'ext_hold', '1 second', 'shorten')).kind;
SELECT (ledger_reserve('ne-tree', 10, '1 hour', 'long')).amount;
SELECT (ledger_reserve('ne-tree/a', 5, '1 second', 'short')).amount;
SELECT count(*) FILTER (WHERE sqlstate = '00000') AS admitted FROM ledger_reserve_batch(
  ARRAY['ne-batch', 'ne-batch'], ARRAY[10, 5]::bigint[],
  ARRAY['1 hour', '1 second']::interval[], ARRAY['long', 'short']);
SET baseledger.clock_offset = '10s';
SELECT (ledger_reserve('ne-flat', 1, '1 hour', 'after')).reserved;
SELECT (ledger_reserve('ne-ext', 1, '1 hour', 'after')).reserved;
SELECT (ledger_reserve('ne-tree', 1, '1 hour', 'after')).reserved;
SELECT count(*) FILTER (WHERE sqlstate = '00000') AS admitted FROM ledger_reserve_batch(
  ARRAY['ne-batch'], ARRAY[1]::bigint[], ARRAY['1 hour']::interval[], ARRAY['after']);
RESET baseledger.clock_offset;
SELECT wallet_id, seq, kind, amount, reserved, origin_wallet_id AS origin
  FROM ledger.events WHERE wallet_id LIKE 'ne-%' AND kind <> 'credit' ORDER BY wallet_id, seq;

-- ledger_verify reports a next_expiry later than an open hold.
UPDATE ledger.wallets SET next_expiry = 'infinity' WHERE wallet_id = 'ne-flat';
SELECT * FROM ledger_verify('ne-flat');
UPDATE ledger.wallets SET next_expiry = NULL WHERE wallet_id = 'ne-flat';
SELECT * FROM ledger_verify();

-- A read-only transaction refuses a call's writes, as it refuses any SQL write.
BEGIN READ ONLY;
SELECT pg_temp.try($$SELECT ledger_reserve('wp-b', 1, '1 min', 'ro')$$);
ROLLBACK;
SET default_transaction_read_only = on;
SELECT pg_temp.try($$SELECT ledger_credit('wp-b', 1, 'ro')$$);
RESET default_transaction_read_only;
SELECT count(*) AS read_only_events FROM ledger.events WHERE idempotency_key = 'ro';

-- Indexes created after this backend first wrote get the entries of the next
-- writes: a partial and an expression btree index, whose predicate and
-- expression the writer compiles, and a hash index. amcheck finds every row
-- of the three tables in each of their btree indexes; the hash index finds
-- the new event. Dropped, they are written no more.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS amcheck SCHEMA public;
RESET client_min_messages;
SELECT ledger_create_wallet('wp-ix') IS NOT NULL AS created;
SELECT (ledger_credit('wp-ix', 10000, 'fund')).balance;
CREATE INDEX wp_partial ON ledger.reservations (amount) WHERE amount = 777;
CREATE INDEX wp_expression ON ledger.events (lower(idempotency_key));
CREATE INDEX wp_hash ON ledger.events USING hash (idempotency_key);
SELECT (ledger_reserve('wp-ix', 777, '1 min', 'IX-1')).amount;
SELECT (ledger_settle('wp-ix', reservation_id, 700, 'IX-2')).balance
  FROM ledger.reservations WHERE wallet_id = 'wp-ix' AND amount = 777;
CREATE FUNCTION pg_temp.btrees_complete() RETURNS TABLE (index_name name, complete boolean)
LANGUAGE sql AS $$
  SELECT c.relname, public.bt_index_check(c.oid, true) IS NOT NULL
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam
   WHERE i.indrelid IN ('ledger.events'::regclass, 'ledger.reservations'::regclass,
                        'ledger.wallets'::regclass)
     AND a.amname = 'btree'
   ORDER BY 1
$$;
SELECT * FROM pg_temp.btrees_complete();
SELECT count(*) AS reservations_of_777 FROM ledger.reservations WHERE amount = 777;
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT kind FROM ledger.events WHERE idempotency_key = 'IX-1';
SELECT kind FROM ledger.events WHERE idempotency_key = 'IX-1';
SELECT kind FROM ledger.events WHERE lower(idempotency_key) = 'ix-2';
RESET enable_seqscan;
RESET enable_bitmapscan;
DROP INDEX ledger.wp_partial, ledger.wp_expression, ledger.wp_hash;
SELECT (ledger_reserve('wp-ix', 777, '1 min', 'IX-3')).amount;
SELECT * FROM pg_temp.btrees_complete();

-- A call refused inside a subtransaction (here after it had read the wallet
-- and the key) leaves the next calls of the same transaction working.
DO $$
BEGIN
  BEGIN
    PERFORM ledger_reserve('wp-ix', 1000000, '1 min', 'SX-1');
  EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'refused with %', SQLSTATE;
  END;
  PERFORM ledger_reserve('wp-ix', 1, '1 min', 'SX-2');
  PERFORM ledger_credit('wp-ix', 1, 'SX-3');
END $$;
SELECT idempotency_key, kind FROM ledger.events
 WHERE wallet_id = 'wp-ix' AND idempotency_key LIKE 'SX-%' ORDER BY seq;

-- A call made by a trigger during another call (a nested call) writes its
-- own rows, and the outer call completes.
CREATE FUNCTION pg_temp.credit_on_hold() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM ledger.ledger_credit('wp-nested', NEW.amount, 'nested-' || NEW.amount);
  RETURN NEW;
END $$;
SELECT ledger_create_wallet('wp-nested') IS NOT NULL AS created;
CREATE TRIGGER wp_nested AFTER INSERT ON ledger.reservations
  FOR EACH ROW EXECUTE FUNCTION pg_temp.credit_on_hold();
SELECT (ledger_reserve('wp-ix', 3, '1 min', 'NX-1')).amount;
DROP TRIGGER wp_nested ON ledger.reservations;
SELECT (ledger_balance('wp-nested')).balance AS nested_balance;
SELECT * FROM pg_temp.btrees_complete();
SELECT * FROM ledger_verify();

-- A committing transaction that took wallet locks releases them before its
-- WAL flush by committing asynchronously for that one commit: the
-- transaction's synchronous_commit is the same before and after, whatever it
-- was, and with baseledger.early_lock_release off calls commit as usual.
SHOW synchronous_commit;
SELECT (ledger_credit('wp-ix', 1, 'ELR-1')).balance;
SHOW synchronous_commit;
BEGIN;
SET LOCAL synchronous_commit = local;
SELECT (ledger_credit('wp-ix', 1, 'ELR-2')).balance;
COMMIT;
SHOW synchronous_commit;
SET synchronous_commit = off;
SELECT (ledger_credit('wp-ix', 1, 'ELR-3')).balance;
SHOW synchronous_commit;
RESET synchronous_commit;
SET baseledger.early_lock_release = off;
SELECT (ledger_credit('wp-ix', 1, 'ELR-4')).balance;
-- A replayed call (no write, no commit record) and a refused one.
SELECT (ledger_credit('wp-ix', 1, 'ELR-4')).replayed;
RESET baseledger.early_lock_release;
SELECT (ledger_credit('wp-ix', 1, 'ELR-4')).replayed;
SELECT pg_temp.try($$SELECT ledger_debit('wp-ix', 1000000, 'ELR-5')$$);
SHOW synchronous_commit;
-- No wallet lock outlives its transaction.
SELECT count(*) AS wallet_locks FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 19522;
SELECT * FROM ledger_verify('wp-ix');
