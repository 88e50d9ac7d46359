-- Every error with its SQLSTATE: NULL arguments (22004), invalid values
-- (22023), overflow (22003) and the ledger's own refusals LB001-LB007,
-- 42710 and 42501. No failing call writes anything.
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
-- The error of a statement in full, with uuids masked.
CREATE FUNCTION pg_temp.error_of(q text,
    OUT code text, OUT message text, OUT detail text, OUT hint text)
  LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  code := 'ok';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
                          detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
  detail := regexp_replace(detail, '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}',
                           '<uuid>', 'g');
END $$;
-- Reservation ids by label.
CREATE TEMP TABLE holds (label text PRIMARY KEY, reservation_id uuid);
CREATE FUNCTION pg_temp.rid(label text) RETURNS uuid LANGUAGE sql AS $$
  SELECT reservation_id FROM pg_temp.holds WHERE label = $1
$$;
-- Everything stored, as one value: equal before and after means nothing was written.
CREATE FUNCTION pg_temp.state() RETURNS text LANGUAGE sql AS $$
  SELECT md5(concat(
    (SELECT string_agg(w::text, ';' ORDER BY wallet_id) FROM ledger.wallets w),
    (SELECT string_agg(e::text, ';' ORDER BY wallet_id, seq) FROM ledger.events e),
    (SELECT string_agg(r::text, ';' ORDER BY wallet_id, reservation_id) FROM ledger.reservations r)))
$$;

-- No function is STRICT: a NULL argument is an error, never a NULL result.
SELECT p.oid::regprocedure AS function, p.proisstrict
  FROM pg_proc p
 WHERE p.pronamespace = 'ledger'::regnamespace
   AND p.proname IN ('ledger_create_wallet', 'ledger_credit', 'ledger_debit', 'ledger_reserve',
                     'ledger_settle', 'ledger_cancel', 'ledger_extend', 'ledger_balance',
                     'ledger_reservation', 'ledger_history', 'ledger_expire', 'ledger_verify')
 ORDER BY p.proname COLLATE "C";

-- ---------------------------------------------------------------- fixtures

SELECT count(*) FROM ledger_create_wallet('err-a');
SELECT count(*) FROM ledger_create_wallet('err-b');
SELECT amount, balance FROM ledger_credit('err-a', 1000, 'fund');
SELECT amount, balance FROM ledger_credit('err-b', 100, 'fund');
INSERT INTO holds SELECT 'open', reservation_id FROM ledger_reserve('err-a', 300, '1 hour', 'open');
INSERT INTO holds SELECT 'settled', reservation_id FROM ledger_reserve('err-a', 100, '1 hour', 'settled');
INSERT INTO holds SELECT 'cancelled', reservation_id FROM ledger_reserve('err-a', 100, '1 hour', 'cancelled');
INSERT INTO holds SELECT 'other', reservation_id FROM ledger_reserve('err-b', 50, '1 hour', 'other');
SELECT kind, amount FROM ledger_settle('err-a', pg_temp.rid('settled'), 40, 'settle');
SELECT kind, amount FROM ledger_cancel('err-a', pg_temp.rid('cancelled'), 'cancel');
SELECT wallet_id, balance, reserved, balance - reserved AS available, active_reservations, last_seq
  FROM ledger.wallets ORDER BY wallet_id COLLATE "C";
SELECT pg_temp.state() AS before \gset

-- ---------------------------------------------------------------- 22004: NULL arguments

SELECT label, pg_temp.try(q) AS result FROM (VALUES
  ('create_wallet wallet_id', $$SELECT ledger_create_wallet(NULL)$$),
  ('create_wallet unit', $$SELECT ledger_create_wallet('err-new', NULL)$$),
  ('create_wallet unit, with metadata', $$SELECT ledger_create_wallet('err-new', NULL, '{}')$$),
  ('credit wallet_id', $$SELECT ledger_credit(NULL, 1, 'k')$$),
  ('credit amount', $$SELECT ledger_credit('err-a', NULL, 'k')$$),
  ('credit idempotency_key', $$SELECT ledger_credit('err-a', 1, NULL)$$),
  ('debit wallet_id', $$SELECT ledger_debit(NULL, 1, 'k')$$),
  ('debit amount', $$SELECT ledger_debit('err-a', NULL, 'k')$$),
  ('debit idempotency_key', $$SELECT ledger_debit('err-a', 1, NULL)$$),
  ('reserve wallet_id', $$SELECT ledger_reserve(NULL, 1, '1 hour', 'k')$$),
  ('reserve amount', $$SELECT ledger_reserve('err-a', NULL, '1 hour', 'k')$$),
  ('reserve ttl', $$SELECT ledger_reserve('err-a', 1, NULL, 'k')$$),
  ('reserve idempotency_key', $$SELECT ledger_reserve('err-a', 1, '1 hour', NULL)$$),
  ('settle wallet_id', $$SELECT ledger_settle(NULL, pg_temp.rid('open'), 1, 'k')$$),
  ('settle reservation_id', $$SELECT ledger_settle('err-a', NULL, 1, 'k')$$),
  ('settle amount', $$SELECT ledger_settle('err-a', pg_temp.rid('open'), NULL, 'k')$$),
  ('settle idempotency_key', $$SELECT ledger_settle('err-a', pg_temp.rid('open'), 1, NULL)$$),
  ('cancel wallet_id', $$SELECT ledger_cancel(NULL, pg_temp.rid('open'), 'k')$$),
  ('cancel reservation_id', $$SELECT ledger_cancel('err-a', NULL, 'k')$$),
  ('cancel idempotency_key', $$SELECT ledger_cancel('err-a', pg_temp.rid('open'), NULL)$$),
  ('extend wallet_id', $$SELECT ledger_extend(NULL, pg_temp.rid('open'), '1 hour', 'k')$$),
  ('extend reservation_id', $$SELECT ledger_extend('err-a', NULL, '1 hour', 'k')$$),
  ('extend ttl', $$SELECT ledger_extend('err-a', pg_temp.rid('open'), NULL, 'k')$$),
  ('extend idempotency_key', $$SELECT ledger_extend('err-a', pg_temp.rid('open'), '1 hour', NULL)$$),
  ('balance wallet_id', $$SELECT ledger_balance(NULL)$$),
  ('reservation wallet_id', $$SELECT ledger_reservation(NULL, pg_temp.rid('open'))$$),
  ('reservation reservation_id', $$SELECT ledger_reservation('err-a', NULL)$$),
  ('history wallet_id', $$SELECT ledger_history(NULL)$$),
  ('history after_seq', $$SELECT ledger_history('err-a', NULL)$$),
  ('history max_rows', $$SELECT ledger_history('err-a', 0, NULL)$$),
  ('expire max_rows', $$SELECT ledger_expire(NULL)$$)
) AS t(label, q);
-- NULL metadata is no metadata, and ledger_verify(NULL) checks every wallet.
SELECT count(*) AS problems FROM ledger_verify(NULL);

-- ---------------------------------------------------------------- 22023: invalid values

-- Amounts: positive where funds move, 0 allowed only as a capture.
SELECT label, pg_temp.try(q) AS result FROM (VALUES
  ('credit 0', $$SELECT ledger_credit('err-a', 0, 'k')$$),
  ('credit -1', $$SELECT ledger_credit('err-a', -1, 'k')$$),
  ('credit min bigint', $$SELECT ledger_credit('err-a', -9223372036854775808, 'k')$$),
  ('debit 0', $$SELECT ledger_debit('err-a', 0, 'k')$$),
  ('debit -5', $$SELECT ledger_debit('err-a', -5, 'k')$$),
  ('reserve 0', $$SELECT ledger_reserve('err-a', 0, '1 hour', 'k')$$),
  ('reserve -1', $$SELECT ledger_reserve('err-a', -1, '1 hour', 'k')$$),
  ('settle -1', $$SELECT ledger_settle('err-a', pg_temp.rid('open'), -1, 'k')$$)
) AS t(label, q);

-- Idempotency keys: 1 to 255 characters, for every write.
SELECT label, pg_temp.try(q) AS result FROM (VALUES
  ('credit empty', $$SELECT ledger_credit('err-a', 1, '')$$),
  ('credit 256', $$SELECT ledger_credit('err-a', 1, repeat('k', 256))$$),
  ('debit empty', $$SELECT ledger_debit('err-a', 1, '')$$),
  ('debit 256', $$SELECT ledger_debit('err-a', 1, repeat('k', 256))$$),
  ('reserve empty', $$SELECT ledger_reserve('err-a', 1, '1 hour', '')$$),
  ('reserve 256', $$SELECT ledger_reserve('err-a', 1, '1 hour', repeat('k', 256))$$),
  ('settle empty', $$SELECT ledger_settle('err-a', pg_temp.rid('open'), 1, '')$$),
  ('settle 256', $$SELECT ledger_settle('err-a', pg_temp.rid('open'), 1, repeat('k', 256))$$),
  ('cancel empty', $$SELECT ledger_cancel('err-a', pg_temp.rid('open'), '')$$),
  ('cancel 256', $$SELECT ledger_cancel('err-a', pg_temp.rid('open'), repeat('k', 256))$$),
  ('extend empty', $$SELECT ledger_extend('err-a', pg_temp.rid('open'), '1 hour', '')$$),
  ('extend 256', $$SELECT ledger_extend('err-a', pg_temp.rid('open'), '1 hour', repeat('k', 256))$$)
) AS t(label, q);

-- ttl: greater than zero and at most baseledger.max_ttl (1 day by default).
SHOW baseledger.max_ttl;
SELECT label, pg_temp.try(q) AS result FROM (VALUES
  ('reserve 0', $$SELECT ledger_reserve('err-a', 1, '0', 'k')$$),
  ('reserve -1 hour', $$SELECT ledger_reserve('err-a', 1, '-1 hour', 'k')$$),
  ('reserve -1 microsecond', $$SELECT ledger_reserve('err-a', 1, '-0.000001 seconds', 'k')$$),
  ('reserve 1 day -24 hours', $$SELECT ledger_reserve('err-a', 1, '1 day -24 hours', 'k')$$),
  ('reserve 1 day 1 microsecond', $$SELECT ledger_reserve('err-a', 1, '1 day 0.000001 seconds', 'k')$$),
  ('reserve 25 hours', $$SELECT ledger_reserve('err-a', 1, '25 hours', 'k')$$),
  ('reserve 1 month', $$SELECT ledger_reserve('err-a', 1, '1 month', 'k')$$),
  ('reserve 100000000 years', $$SELECT ledger_reserve('err-a', 1, '100000000 years', 'k')$$),
  ('reserve -100000000 years', $$SELECT ledger_reserve('err-a', 1, '-100000000 years', 'k')$$),
  ('extend 0', $$SELECT ledger_extend('err-a', pg_temp.rid('open'), '0', 'k')$$),
  ('extend -1 hour', $$SELECT ledger_extend('err-a', pg_temp.rid('open'), '-1 hour', 'k')$$),
  ('extend 25 hours', $$SELECT ledger_extend('err-a', pg_temp.rid('open'), '25 hours', 'k')$$)
) AS t(label, q);
-- A lower maximum applies at once.
SET baseledger.max_ttl = '1h';
SHOW baseledger.max_ttl;
SELECT label, pg_temp.try(q) AS result FROM (VALUES
  ('reserve 1 hour 1 second', $$SELECT ledger_reserve('err-a', 1, '1 hour 1 second', 'k')$$),
  ('reserve 2 hours', $$SELECT ledger_reserve('err-a', 1, '2 hours', 'k')$$),
  ('extend 61 minutes', $$SELECT ledger_extend('err-a', pg_temp.rid('open'), '61 minutes', 'k')$$)
) AS t(label, q);
SELECT * FROM pg_temp.error_of($$SELECT ledger_reserve('err-a', 1, '2 hours', 'k')$$);
RESET baseledger.max_ttl;

-- Wallet ids: 1 to 200 letters, digits and ._:@-, with / between non-empty segments.
SELECT label, pg_temp.try(q) AS result FROM (VALUES
  ('empty', $$SELECT ledger_create_wallet('')$$),
  ('201 characters', $$SELECT ledger_create_wallet(repeat('w', 201))$$),
  ('a//b', $$SELECT ledger_create_wallet('a//b')$$),
  ('/a', $$SELECT ledger_create_wallet('/a')$$),
  ('a/', $$SELECT ledger_create_wallet('a/')$$),
  ('/', $$SELECT ledger_create_wallet('/')$$),
  ('a b', $$SELECT ledger_create_wallet('a b')$$),
  ('ä', $$SELECT ledger_create_wallet('ä')$$),
  ('agent-ä', $$SELECT ledger_create_wallet('agent-ä')$$),
  ('a\b', $$SELECT ledger_create_wallet('a\b')$$),
  ('a;b', $$SELECT ledger_create_wallet('a;b')$$),
  ('a*', $$SELECT ledger_create_wallet('a*')$$),
  ('tab', $$SELECT ledger_create_wallet(E'a\tb')$$),
  ('newline at the end', $$SELECT ledger_create_wallet(E'a\n')$$),
  ('credit a//b', $$SELECT ledger_credit('a//b', 1, 'k')$$),
  ('debit /a', $$SELECT ledger_debit('/a', 1, 'k')$$),
  ('reserve a/', $$SELECT ledger_reserve('a/', 1, '1 hour', 'k')$$),
  ('settle a b', $$SELECT ledger_settle('a b', pg_temp.rid('open'), 1, 'k')$$),
  ('cancel empty', $$SELECT ledger_cancel('', pg_temp.rid('open'), 'k')$$),
  ('extend 201', $$SELECT ledger_extend(repeat('w', 201), pg_temp.rid('open'), '1 hour', 'k')$$),
  ('balance ä', $$SELECT ledger_balance('ä')$$),
  ('reservation a//b', $$SELECT ledger_reservation('a//b', pg_temp.rid('open'))$$),
  ('history /a', $$SELECT ledger_history('/a')$$),
  ('verify a/', $$SELECT ledger_verify('a/')$$)
) AS t(label, q);

-- Units: 1 to 32 letters, digits and ._-.
SELECT label, pg_temp.try(q) AS result FROM (VALUES
  ('empty', $$SELECT ledger_create_wallet('err-u', '')$$),
  ('33 characters', $$SELECT ledger_create_wallet('err-u', repeat('u', 33))$$),
  ('us dollars', $$SELECT ledger_create_wallet('err-u', 'us dollars')$$),
  ('usd/cents', $$SELECT ledger_create_wallet('err-u', 'usd/cents')$$),
  ('€', $$SELECT ledger_create_wallet('err-u', '€')$$)
) AS t(label, q);

-- Metadata: a JSON object of at most 8192 bytes as text.
SELECT octet_length(jsonb_build_object('x', repeat('a', 8183))::text) AS largest,
       octet_length(jsonb_build_object('x', repeat('a', 8184))::text) AS too_large,
       octet_length(jsonb_build_object('x', repeat('ä', 4092))::text) AS too_large_multibyte;
SELECT label, pg_temp.try(q) AS result FROM (VALUES
  ('credit array', $$SELECT ledger_credit('err-a', 1, 'k', '[1, 2]')$$),
  ('credit empty array', $$SELECT ledger_credit('err-a', 1, 'k', '[]')$$),
  ('credit string', $$SELECT ledger_credit('err-a', 1, 'k', '"text"')$$),
  ('credit number', $$SELECT ledger_credit('err-a', 1, 'k', '42')$$),
  ('credit boolean', $$SELECT ledger_credit('err-a', 1, 'k', 'true')$$),
  ('credit JSON null', $$SELECT ledger_credit('err-a', 1, 'k', 'null')$$),
  ('credit 8193 bytes', $$SELECT ledger_credit('err-a', 1, 'k', jsonb_build_object('x', repeat('a', 8184)))$$),
  ('credit 8193 bytes, 4097 characters', $$SELECT ledger_credit('err-a', 1, 'k', jsonb_build_object('x', repeat('ä', 4092)))$$),
  ('debit array', $$SELECT ledger_debit('err-a', 1, 'k', '[]')$$),
  ('debit too large', $$SELECT ledger_debit('err-a', 1, 'k', jsonb_build_object('x', repeat('a', 9000)))$$),
  ('reserve string', $$SELECT ledger_reserve('err-a', 1, '1 hour', 'k', '"x"')$$),
  ('reserve too large', $$SELECT ledger_reserve('err-a', 1, '1 hour', 'k', jsonb_build_object('x', repeat('a', 9000)))$$),
  ('settle number', $$SELECT ledger_settle('err-a', pg_temp.rid('open'), 1, 'k', '1')$$),
  ('settle too large', $$SELECT ledger_settle('err-a', pg_temp.rid('open'), 1, 'k', jsonb_build_object('x', repeat('a', 9000)))$$),
  ('cancel array', $$SELECT ledger_cancel('err-a', pg_temp.rid('open'), 'k', '[{}]')$$),
  ('cancel too large', $$SELECT ledger_cancel('err-a', pg_temp.rid('open'), 'k', jsonb_build_object('x', repeat('a', 9000)))$$),
  ('create_wallet array', $$SELECT ledger_create_wallet('err-m', 'credits', '[]')$$),
  ('create_wallet too large', $$SELECT ledger_create_wallet('err-m', 'credits', jsonb_build_object('x', repeat('a', 9000)))$$)
) AS t(label, q);

-- History pages and the expiry batch.
SELECT label, pg_temp.try(q) AS result FROM (VALUES
  ('history after_seq -1', $$SELECT ledger_history('err-a', -1)$$),
  ('history max_rows 0', $$SELECT ledger_history('err-a', 0, 0)$$),
  ('history max_rows -1', $$SELECT ledger_history('err-a', 0, -1)$$),
  ('history max_rows 10001', $$SELECT ledger_history('err-a', 0, 10001)$$),
  ('expire 0', $$SELECT ledger_expire(0)$$),
  ('expire -1', $$SELECT ledger_expire(-1)$$),
  ('expire 1000001', $$SELECT ledger_expire(1000001)$$)
) AS t(label, q);

-- ---------------------------------------------------------------- the ledger's refusals

SELECT label, pg_temp.try(q) AS result FROM (VALUES
  -- LB001: err-a has 660 available, err-b 50
  ('LB001 debit', $$SELECT ledger_debit('err-a', 661, 'k')$$),
  ('LB001 reserve', $$SELECT ledger_reserve('err-a', 661, '1 hour', 'k')$$),
  ('LB001 debit, other wallet', $$SELECT ledger_debit('err-b', 51, 'k')$$),
  -- LB002: no such wallet
  ('LB002 credit', $$SELECT ledger_credit('err-nobody', 1, 'k')$$),
  ('LB002 debit', $$SELECT ledger_debit('err-nobody', 1, 'k')$$),
  ('LB002 reserve', $$SELECT ledger_reserve('err-nobody', 1, '1 hour', 'k')$$),
  ('LB002 settle', $$SELECT ledger_settle('err-nobody', pg_temp.rid('open'), 1, 'k')$$),
  ('LB002 cancel', $$SELECT ledger_cancel('err-nobody', pg_temp.rid('open'), 'k')$$),
  ('LB002 extend', $$SELECT ledger_extend('err-nobody', pg_temp.rid('open'), '1 hour', 'k')$$),
  ('LB002 balance', $$SELECT ledger_balance('err-nobody')$$),
  ('LB002 reservation', $$SELECT ledger_reservation('err-nobody', pg_temp.rid('open'))$$),
  ('LB002 history', $$SELECT ledger_history('err-nobody')$$),
  ('LB002 verify', $$SELECT ledger_verify('err-nobody')$$),
  ('LB002 a prefix of a wallet', $$SELECT ledger_balance('err')$$),
  ('LB002 another case', $$SELECT ledger_balance('ERR/A')$$),
  -- LB003: no such reservation in this wallet
  ('LB003 settle unknown', $$SELECT ledger_settle('err-a', gen_random_uuid(), 1, 'k')$$),
  ('LB003 cancel unknown', $$SELECT ledger_cancel('err-a', gen_random_uuid(), 'k')$$),
  ('LB003 extend unknown', $$SELECT ledger_extend('err-a', gen_random_uuid(), '1 hour', 'k')$$),
  ('LB003 reservation unknown', $$SELECT ledger_reservation('err-a', gen_random_uuid())$$),
  ('LB003 settle of another wallet''s', $$SELECT ledger_settle('err-a', pg_temp.rid('other'), 1, 'k')$$),
  ('LB003 cancel of another wallet''s', $$SELECT ledger_cancel('err-a', pg_temp.rid('other'), 'k')$$),
  ('LB003 extend of another wallet''s', $$SELECT ledger_extend('err-a', pg_temp.rid('other'), '1 hour', 'k')$$),
  ('LB003 reservation of another wallet''s', $$SELECT ledger_reservation('err-a', pg_temp.rid('other'))$$),
  ('LB003 the other way round', $$SELECT ledger_settle('err-b', pg_temp.rid('open'), 1, 'k')$$),
  -- LB004: already settled or cancelled
  ('LB004 settle a settled one', $$SELECT ledger_settle('err-a', pg_temp.rid('settled'), 1, 'k')$$),
  ('LB004 settle a settled one with 0', $$SELECT ledger_settle('err-a', pg_temp.rid('settled'), 0, 'k')$$),
  ('LB004 cancel a settled one', $$SELECT ledger_cancel('err-a', pg_temp.rid('settled'), 'k')$$),
  ('LB004 extend a settled one', $$SELECT ledger_extend('err-a', pg_temp.rid('settled'), '1 hour', 'k')$$),
  ('LB004 settle a cancelled one', $$SELECT ledger_settle('err-a', pg_temp.rid('cancelled'), 1, 'k')$$),
  ('LB004 cancel a cancelled one', $$SELECT ledger_cancel('err-a', pg_temp.rid('cancelled'), 'k')$$),
  ('LB004 extend a cancelled one', $$SELECT ledger_extend('err-a', pg_temp.rid('cancelled'), '1 hour', 'k')$$),
  -- LB006: capture above the hold
  ('LB006 settle 301 of 300', $$SELECT ledger_settle('err-a', pg_temp.rid('open'), 301, 'k')$$),
  ('LB006 settle max bigint', $$SELECT ledger_settle('err-a', pg_temp.rid('open'), 9223372036854775807, 'k')$$),
  -- LB007: a used key with other arguments
  ('LB007 credit with the key of a reserve', $$SELECT ledger_credit('err-a', 1, 'open')$$),
  -- 42710: the wallet exists in another unit
  ('42710 create_wallet', $$SELECT ledger_create_wallet('err-a', 'usd')$$),
  -- 42501: the event log is append-only
  ('42501 update events', $$UPDATE ledger.events SET amount = amount + 1 WHERE wallet_id = 'err-a'$$),
  ('42501 delete events', $$DELETE FROM ledger.events WHERE wallet_id = 'err-a'$$),
  ('42501 truncate events', $$TRUNCATE ledger.events CASCADE$$)
) AS t(label, q);

-- Each refusal in full: lowercase messages without a final period, details
-- and hints as sentences.
SELECT label, e.* FROM (VALUES
  ('22004', $$SELECT ledger_debit('err-a', NULL, 'k')$$),
  ('22023 amount', $$SELECT ledger_debit('err-a', 0, 'k')$$),
  ('22023 settle amount', $$SELECT ledger_settle('err-a', pg_temp.rid('open'), -1, 'k')$$),
  ('22023 key', $$SELECT ledger_debit('err-a', 1, repeat('k', 256))$$),
  ('22023 ttl', $$SELECT ledger_reserve('err-a', 1, '0', 'k')$$),
  ('22023 ttl above max', $$SELECT ledger_reserve('err-a', 1, '25 hours', 'k')$$),
  ('22023 wallet id', $$SELECT ledger_balance('a//b')$$),
  ('22023 unit', $$SELECT ledger_create_wallet('err-u', 'a b')$$),
  ('22023 metadata', $$SELECT ledger_credit('err-a', 1, 'k', '[]')$$),
  ('22023 metadata size', $$SELECT ledger_credit('err-a', 1, 'k', jsonb_build_object('x', repeat('a', 8184)))$$),
  ('22023 history', $$SELECT ledger_history('err-a', 0, 0)$$),
  ('22023 expire', $$SELECT ledger_expire(0)$$),
  ('LB001', $$SELECT ledger_debit('err-a', 661, 'k')$$),
  ('LB002', $$SELECT ledger_credit('err-nobody', 1, 'k')$$),
  ('LB003', $$SELECT ledger_cancel('err-a', pg_temp.rid('other'), 'k')$$),
  ('LB004', $$SELECT ledger_cancel('err-a', pg_temp.rid('settled'), 'k')$$),
  ('LB006', $$SELECT ledger_settle('err-a', pg_temp.rid('open'), 301, 'k')$$),
  ('LB007', $$SELECT ledger_credit('err-a', 1, 'open')$$),
  ('42710', $$SELECT ledger_create_wallet('err-a', 'usd')$$),
  ('42501', $$DELETE FROM ledger.events$$)
) AS t(label, q), pg_temp.error_of(q) e \gx

-- Nothing was written by any of the calls above.
SELECT pg_temp.state() = :'before' AS nothing_written;
SELECT count(*) AS wallets FROM ledger.wallets;

-- ---------------------------------------------------------------- 22003: overflow

SELECT count(*) FROM ledger_create_wallet('err-big');
SELECT kind, amount, balance FROM ledger_credit('err-big', 9223372036854775807, 'first');
SELECT pg_temp.state() AS before \gset
SELECT pg_temp.try($$SELECT ledger_credit('err-big', 9223372036854775807, 'second')$$);
SELECT pg_temp.try($$SELECT ledger_credit('err-big', 1, 'third')$$);
SELECT * FROM pg_temp.error_of($$SELECT ledger_credit('err-big', 1, 'third')$$);
SELECT pg_temp.state() = :'before' AS nothing_written;
SELECT balance, available, last_seq FROM ledger_balance('err-big');
-- The whole balance can still be held and spent.
SELECT kind, amount, balance, reserved, available
  FROM ledger_reserve('err-big', 9223372036854775807, '1 hour', 'hold-all');
SELECT kind, amount, balance, reserved, available
  FROM ledger_settle('err-big', (SELECT reservation_id FROM ledger.reservations
                                  WHERE wallet_id = 'err-big'), 9223372036854775807, 'spend-all');
SELECT kind, amount, balance FROM ledger_credit('err-big', 9223372036854775807, 'second');

-- ---------------------------------------------------------------- LB005: expired holds

SELECT count(*) FROM ledger_create_wallet('err-exp');
SELECT amount FROM ledger_credit('err-exp', 100, 'fund');
INSERT INTO holds SELECT 'lapsed', reservation_id FROM ledger_reserve('err-exp', 40, '10 minutes', 'lapsed');
INSERT INTO holds SELECT 'swept', reservation_id FROM ledger_reserve('err-exp', 30, '10 minutes', 'swept');
-- Move the ledger's clock past both expiries.
SET baseledger.clock_offset = '11min';
SELECT pg_temp.state() AS before \gset
-- Lapsed, not yet swept: the hold is still 'active' in storage.
SELECT state FROM ledger.reservations WHERE reservation_id = pg_temp.rid('lapsed');
SELECT label, pg_temp.try(q) AS result FROM (VALUES
  ('settle', $$SELECT ledger_settle('err-exp', pg_temp.rid('lapsed'), 1, 'k')$$),
  ('settle 0', $$SELECT ledger_settle('err-exp', pg_temp.rid('lapsed'), 0, 'k')$$),
  ('settle above the hold', $$SELECT ledger_settle('err-exp', pg_temp.rid('lapsed'), 41, 'k')$$),
  ('cancel', $$SELECT ledger_cancel('err-exp', pg_temp.rid('lapsed'), 'k')$$),
  ('extend', $$SELECT ledger_extend('err-exp', pg_temp.rid('lapsed'), '1 hour', 'k')$$)
) AS t(label, q);
SELECT * FROM pg_temp.error_of($$SELECT ledger_cancel('err-exp', pg_temp.rid('lapsed'), 'k')$$);
SELECT pg_temp.state() = :'before' AS nothing_written;
-- Swept: the expire events are written and the holds are 'expired' in storage.
SELECT ledger_expire() AS expired;
SELECT state FROM ledger.reservations WHERE reservation_id = pg_temp.rid('swept');
SELECT pg_temp.state() AS before \gset
SELECT label, pg_temp.try(q) AS result FROM (VALUES
  ('settle', $$SELECT ledger_settle('err-exp', pg_temp.rid('swept'), 1, 'k')$$),
  ('cancel', $$SELECT ledger_cancel('err-exp', pg_temp.rid('swept'), 'k')$$),
  ('extend', $$SELECT ledger_extend('err-exp', pg_temp.rid('swept'), '1 hour', 'k')$$)
) AS t(label, q);
SELECT pg_temp.state() = :'before' AS nothing_written;
RESET baseledger.clock_offset;

-- ---------------------------------------------------------------- the limits themselves are valid

SELECT label, pg_temp.try(q) AS result FROM (VALUES
  ('wallet id of 200 characters', $$SELECT ledger_create_wallet(repeat('w', 200))$$),
  ('wallet id with every allowed character', $$SELECT ledger_create_wallet('acme.io'), ledger_create_wallet('acme.io/team_1:eu'), ledger_create_wallet('acme.io/team_1:eu/agent@7-b')$$),
  ('one-character wallet id', $$SELECT ledger_create_wallet('Z')$$),
  ('unit of 32 characters', $$SELECT ledger_create_wallet('err-unit32', repeat('u', 32))$$),
  ('unit with ._-', $$SELECT ledger_create_wallet('err-unit', 'tokens.v2_in-k')$$),
  ('metadata of 8192 bytes', $$SELECT ledger_credit('err-a', 1, 'meta-8192', jsonb_build_object('x', repeat('a', 8183)))$$),
  ('empty metadata object', $$SELECT ledger_credit('err-a', 1, 'meta-empty', '{}')$$),
  ('nested metadata', $$SELECT ledger_credit('err-a', 1, 'meta-nested', '{"a": [1, {"b": null}]}')$$),
  ('wallet metadata of 8192 bytes', $$SELECT ledger_create_wallet('err-meta', 'credits', jsonb_build_object('x', repeat('a', 8183)))$$),
  ('ttl of exactly 1 day', $$SELECT ledger_reserve('err-a', 1, '1 day', 'ttl-day')$$),
  ('ttl of 1 microsecond', $$SELECT ledger_reserve('err-a', 1, '0.000001 seconds', 'ttl-micro')$$),
  ('extend by exactly 1 day', $$SELECT ledger_extend('err-a', pg_temp.rid('open'), '24 hours', 'ext-day')$$),
  ('settle 0', $$SELECT ledger_settle('err-a', pg_temp.rid('open'), 0, 'settle-0')$$),
  ('history max_rows 10000', $$SELECT ledger_history('err-a', 0, 10000)$$),
  ('history after the last seq', $$SELECT ledger_history('err-a', 9223372036854775807, 1)$$),
  ('expire 1', $$SELECT ledger_expire(1)$$),
  ('expire 1000000', $$SELECT ledger_expire(1000000)$$)
) AS t(label, q);
SELECT wallet_id, unit FROM ledger.wallets WHERE length(wallet_id) < 50 ORDER BY wallet_id COLLATE "C";
SELECT count(*) AS long_ids FROM ledger.wallets WHERE length(wallet_id) = 200;

SELECT * FROM ledger_verify();
