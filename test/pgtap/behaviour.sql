-- Behaviour behind the SQL API that clients rely on: each LB SQLSTATE for its
-- case, idempotent replay, refused calls leaving no trace, the append-only
-- event log, and a consistent replay by ledger_verify(). Everything runs in
-- one transaction that is rolled back.
\unset ECHO
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off
\set ON_ERROR_STOP true

BEGIN;
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgtap;
DROP EXTENSION IF EXISTS baseledger CASCADE;
CREATE EXTENSION baseledger;
RESET client_min_messages;
SET search_path = ledger, public;

SELECT plan(32);

-- ---------------------------------------------------------------- setup

SELECT is((ledger_create_wallet('pgtap-b')).balance, 0::bigint,
          'a new wallet starts at balance 0');
CREATE TEMP TABLE first_credit AS
  SELECT * FROM ledger_credit('pgtap-b', 100, 'pgtap-b-credit', '{"source": "pgtap"}');
SELECT results_eq(
  $$ SELECT seq, kind, amount, balance, reserved, available, replayed FROM first_credit $$,
  $$ VALUES (1::bigint, 'credit', 100::bigint, 100::bigint, 0::bigint, 100::bigint, false) $$,
  'a credit of 100 is event 1 and is not a replay');

-- ---------------------------------------------------------------- replay

CREATE TEMP TABLE retried_credit AS
  SELECT * FROM ledger_credit('pgtap-b', 100, 'pgtap-b-credit', '{"source": "pgtap"}');
SELECT is((SELECT replayed FROM retried_credit), true,
          'a retry with the same key and arguments is replayed');
SELECT results_eq(
  $$ SELECT wallet_id, seq, kind, reservation_id, amount, balance, reserved, available,
            expires_at, at
       FROM retried_credit $$,
  $$ SELECT wallet_id, seq, kind, reservation_id, amount, balance, reserved, available,
            expires_at, at
       FROM first_credit $$,
  'the replay returns the original result: same seq, amounts, balances and time');

-- LB007: the same key with any other argument.
SELECT throws_ok($$ SELECT ledger_credit('pgtap-b', 101, 'pgtap-b-credit', '{"source": "pgtap"}') $$,
                 'LB007', NULL, 'the same key with another amount fails LB007');
SELECT throws_ok($$ SELECT ledger_credit('pgtap-b', 100, 'pgtap-b-credit', '{"source": "other"}') $$,
                 'LB007', NULL, 'the same key with other metadata fails LB007');
SELECT throws_ok($$ SELECT ledger_credit('pgtap-b', 100, 'pgtap-b-credit') $$,
                 'LB007', NULL, 'the same key without its metadata fails LB007');
SELECT throws_ok($$ SELECT ledger_debit('pgtap-b', 100, 'pgtap-b-credit', '{"source": "pgtap"}') $$,
                 'LB007', NULL, 'the same key for another kind of write fails LB007');

-- ---------------------------------------------------------------- errors

-- LB001: more than is available.
SELECT throws_ok($$ SELECT ledger_debit('pgtap-b', 101, 'pgtap-b-overdraw') $$,
                 'LB001', NULL, 'a debit over the available funds fails LB001');
SELECT throws_ok($$ SELECT ledger_reserve('pgtap-b', 101, '1 minute', 'pgtap-b-overhold') $$,
                 'LB001', NULL, 'a hold over the available funds fails LB001');

-- LB002: no such wallet.
SELECT throws_ok($$ SELECT ledger_credit('pgtap-b-missing', 1, 'pgtap-b-missing-credit') $$,
                 'LB002', NULL, 'a credit to a missing wallet fails LB002');
SELECT throws_ok($$ SELECT ledger_balance('pgtap-b-missing') $$,
                 'LB002', NULL, 'the balance of a missing wallet fails LB002');

CREATE TEMP TABLE hold AS
  SELECT * FROM ledger_reserve('pgtap-b', 30, '1 minute', 'pgtap-b-hold');
SELECT results_eq(
  $$ SELECT seq, kind, amount, balance, reserved, available, expires_at > at, replayed
       FROM hold $$,
  $$ VALUES (2::bigint, 'reserve', 30::bigint, 100::bigint, 30::bigint, 70::bigint, true,
             false) $$,
  'a hold of 30 is event 2 and sets 30 aside');
SELECT results_eq(
  $$ SELECT seq, reservation_id, expires_at, replayed
       FROM ledger_reserve('pgtap-b', 30, '1 minute', 'pgtap-b-hold') $$,
  $$ SELECT seq, reservation_id, expires_at, true FROM hold $$,
  'a retried hold returns the same reservation_id and expires_at, replayed');

-- LB003: no such reservation in the wallet.
SELECT throws_ok($$ SELECT ledger_settle('pgtap-b', '00000000-0000-4000-8000-000000000000',
                                         1, 'pgtap-b-settle-unknown') $$,
                 'LB003', NULL, 'settling an unknown reservation fails LB003');
SELECT throws_ok($$ SELECT ledger_reservation('pgtap-b', '00000000-0000-4000-8000-000000000000') $$,
                 'LB003', NULL, 'reading an unknown reservation fails LB003');

-- LB006: capture over the hold.
SELECT throws_ok($$ SELECT ledger_settle('pgtap-b', (SELECT reservation_id FROM hold), 31,
                                         'pgtap-b-settle-over') $$,
                 'LB006', NULL, 'capturing more than the hold fails LB006');

SELECT results_eq(
  $$ SELECT seq, kind, amount, balance, reserved, available
       FROM ledger_settle('pgtap-b', (SELECT reservation_id FROM hold), 20, 'pgtap-b-settle') $$,
  $$ VALUES (3::bigint, 'settle', 20::bigint, 80::bigint, 0::bigint, 80::bigint) $$,
  'settling 20 of the hold of 30 captures 20 and releases 10');

-- LB004: the hold is closed.
SELECT throws_ok($$ SELECT ledger_cancel('pgtap-b', (SELECT reservation_id FROM hold),
                                         'pgtap-b-cancel-closed') $$,
                 'LB004', NULL, 'cancelling a settled reservation fails LB004');
SELECT throws_ok($$ SELECT ledger_settle('pgtap-b', (SELECT reservation_id FROM hold), 1,
                                         'pgtap-b-settle-again') $$,
                 'LB004', NULL, 'settling a settled reservation again fails LB004');

-- LB005: the hold lapsed. The ledger's clock is moved past expires_at.
CREATE TEMP TABLE short_hold AS
  SELECT * FROM ledger_reserve('pgtap-b', 10, '1 second', 'pgtap-b-short-hold');
SET baseledger.clock_offset = '5s';
SELECT throws_ok($$ SELECT ledger_settle('pgtap-b', (SELECT reservation_id FROM short_hold), 5,
                                         'pgtap-b-settle-lapsed') $$,
                 'LB005', NULL, 'settling a lapsed reservation fails LB005');
SELECT throws_ok($$ SELECT ledger_extend('pgtap-b', (SELECT reservation_id FROM short_hold),
                                         '1 minute', 'pgtap-b-extend-lapsed') $$,
                 'LB005', NULL, 'extending a lapsed reservation fails LB005');
SELECT results_eq(
  $$ SELECT balance, reserved, available, active_reservations, last_seq
       FROM ledger_balance('pgtap-b') $$,
  $$ VALUES (80::bigint, 0::bigint, 80::bigint, 0, 4::bigint) $$,
  'the lapsed hold no longer counts, before any sweep, and refused calls wrote nothing');
SELECT is((ledger_reservation('pgtap-b', (SELECT reservation_id FROM short_hold))).state,
          'expired', 'the lapsed reservation reads as expired');
RESET baseledger.clock_offset;

-- ---------------------------------------------------------------- the event log

SELECT throws_ok($$ DELETE FROM ledger.events WHERE wallet_id = 'pgtap-b' $$,
                 '42501', NULL, 'DELETE on ledger.events is refused with 42501');
SELECT throws_ok($$ UPDATE ledger.events SET amount = amount + 1 WHERE wallet_id = 'pgtap-b' $$,
                 '42501', NULL, 'UPDATE on ledger.events is refused with 42501');
SELECT throws_ok($$ TRUNCATE ledger.events $$,
                 '42501', NULL, 'TRUNCATE on ledger.events is refused with 42501');
SET session_replication_role = replica;
SELECT throws_ok($$ DELETE FROM ledger.events WHERE wallet_id = 'pgtap-b' $$,
                 '42501', NULL,
                 'DELETE on ledger.events is refused with 42501 under session_replication_role = replica');
RESET session_replication_role;

SELECT results_eq(
  $$ SELECT seq, kind, amount FROM ledger_history('pgtap-b') $$,
  $$ VALUES (1::bigint, 'credit', 100::bigint), (2::bigint, 'reserve', 30::bigint),
            (3::bigint, 'settle', 20::bigint), (4::bigint, 'reserve', 10::bigint) $$,
  'the history holds exactly the four accepted writes, in order');
SELECT ok((SELECT bool_and(at > lag_at) FROM
             (SELECT at, lag(at) OVER (ORDER BY seq) AS lag_at FROM ledger_history('pgtap-b')) h
           WHERE lag_at IS NOT NULL),
          'event times strictly increase with seq');

-- ---------------------------------------------------------------- verify

SELECT is_empty($$ SELECT * FROM ledger_verify('pgtap-b') $$,
                'ledger_verify(wallet) finds no divergence');
SELECT is_empty($$ SELECT * FROM ledger_verify() $$,
                'ledger_verify() finds no divergence in any wallet');

SELECT * FROM finish();
ROLLBACK;
