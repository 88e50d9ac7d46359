-- Behaviour behind the SQL API that clients rely on: each LB SQLSTATE for its
-- case, idempotent replay, refused calls leaving no trace, the append-only
-- event log, the wallet hierarchy with its limits, overage and alerts, and a
-- consistent replay by ledger_verify(). Everything runs in
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

SELECT plan(62);

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

-- ---------------------------------------------------------------- fleets

-- An hour into the current UTC day on the ledger's clock, so that the day
-- limit below cannot straddle midnight.
DO $$
BEGIN
  PERFORM set_config('baseledger.timezone', 'UTC', true);
  PERFORM set_config('baseledger.clock_offset',
    round(extract(epoch FROM date_trunc('day', clock_timestamp(), 'UTC') + interval '1 hour'
                             - clock_timestamp()) * 1000)::bigint::text, true);
END
$$;

-- The tree: org pgtap-f (100), capped team (1000), uncapped agent.
SELECT lives_ok($$ SELECT ledger_create_wallet('pgtap-f') $$, 'setup: root pgtap-f is created');
SELECT lives_ok($$ SELECT ledger_credit('pgtap-f', 100, 'pgtap-f-fund') $$,
                'setup: root pgtap-f is credited');
SELECT lives_ok($$ SELECT ledger_create_wallet('pgtap-f/team') $$,
                'a child wallet is created under its existing parent');
SELECT lives_ok($$ SELECT ledger_credit('pgtap-f/team', 1000, 'pgtap-f-team-fund') $$,
                'a capped child wallet is credited');
SELECT lives_ok($$ SELECT ledger_create_wallet('pgtap-f/team/agent', capped => false) $$,
                'an uncapped child wallet is created');
SELECT throws_ok($$ SELECT ledger_create_wallet('pgtap-f/none/agent') $$,
                 'LB002', 'parent wallet not found', 'a child without its parent fails LB002');
SELECT throws_ok($$ SELECT ledger_create_wallet('pgtap-f/usd', 'usd') $$,
                 '22023', 'unit differs from the parent wallet',
                 'a child in another unit than its parent fails 22023');
SELECT throws_ok($$ SELECT ledger_create_wallet('pgtap-f-root', capped => false) $$,
                 '22023', NULL, 'an uncapped root fails 22023');
SELECT throws_ok($$ SELECT ledger_create_wallet('pgtap-f/team', capped => false) $$,
                 '42710', NULL, 'a capped wallet created again as uncapped fails 42710');
SELECT throws_ok($$ SELECT ledger_credit('pgtap-f/team/agent', 1, 'pgtap-f-agent-fund') $$,
                 '55000', 'wallet is uncapped', 'crediting an uncapped wallet fails 55000');
SELECT throws_ok($$ SELECT ledger_set_overdraft('pgtap-f/team/agent', 1) $$,
                 '55000', NULL, 'a credit line on an uncapped wallet fails 55000');
SELECT lives_ok($$ SELECT ledger_set_alert('pgtap-f', 'available_below', 50) $$,
                'an alert is set on the org: available below 50');

-- LB001 from an ancestor.
SELECT throws_ok($$ SELECT ledger_debit('pgtap-f/team/agent', 101, 'pgtap-f-over') $$,
                 'LB001', 'insufficient funds',
                 'an agent''s debit over its org''s available funds fails LB001');
-- A hold is recorded at every level, all at one time, with the key at the owner only.
CREATE TEMP TABLE f_hold AS
  SELECT * FROM ledger_reserve('pgtap-f/team/agent', 60, '1 hour', 'pgtap-f-hold');
SELECT results_eq(
  $$ SELECT wallet_id::text COLLATE "default", kind::text, amount,
            idempotency_key::text COLLATE "default"
       FROM ledger.events
      WHERE reservation_id = (SELECT reservation_id FROM f_hold) ORDER BY wallet_id COLLATE "C" $$,
  $$ VALUES ('pgtap-f', 'reserve', 60::bigint, NULL::text),
            ('pgtap-f/team', 'reserve', 60::bigint, NULL::text),
            ('pgtap-f/team/agent', 'reserve', 60::bigint, 'pgtap-f-hold') $$,
  'a reserve writes one event at the wallet and one at each ancestor');
SELECT is((SELECT count(DISTINCT at) FROM ledger.events
            WHERE reservation_id = (SELECT reservation_id FROM f_hold)), 1::bigint,
          'the events of one call carry the same time');
SELECT results_eq(
  $$ SELECT b.wallet_id, b.reserved, b.active_reservations
       FROM unnest(ARRAY['pgtap-f', 'pgtap-f/team', 'pgtap-f/team/agent']) w(id), ledger_balance(w.id) b $$,
  $$ VALUES ('pgtap-f', 60::bigint, 1), ('pgtap-f/team', 60::bigint, 1),
            ('pgtap-f/team/agent', 60::bigint, 1) $$,
  'every level counts the hold of its subtree');
-- The org crossed below 50 available (40): one alert.
SELECT results_eq(
  $$ SELECT wallet_id, kind, period, threshold, value FROM ledger_alerts() $$,
  $$ VALUES ('pgtap-f', 'available_below', NULL::text, 50::bigint, 40::bigint) $$,
  'crossing an alert''s threshold records one alert');

-- LB008: a concurrency cap, then a period limit.
SELECT lives_ok($$ SELECT ledger_set_concurrency('pgtap-f/team', 1) $$,
                'a concurrency cap of 1 is set on the team');
SELECT throws_ok($$ SELECT ledger_reserve('pgtap-f/team/agent', 1, '1 hour', 'pgtap-f-second') $$,
                 'LB008', 'concurrency limit reached', 'a second hold under a cap of 1 fails LB008');
SELECT lives_ok($$ SELECT ledger_set_concurrency('pgtap-f/team', NULL) $$,
                'the concurrency cap is removed');
SELECT lives_ok($$ SELECT ledger_set_limit('pgtap-f', 'day', 5, NULL) $$,
                'a limit of 5 a day is set on the org');
SELECT lives_ok($$ SELECT ledger_debit('pgtap-f/team/agent', 5, 'pgtap-f-five') $$,
                'a debit of 5 fits the day limit exactly');
SELECT throws_ok($$ SELECT ledger_debit('pgtap-f/team/agent', 1, 'pgtap-f-sixth') $$,
                 'LB008', 'period amount limit reached', 'a debit beyond the day limit fails LB008');

-- Overage: 35 available at the org beyond the hold of 60.
SELECT throws_ok($$ SELECT ledger_settle('pgtap-f/team/agent', (SELECT reservation_id FROM f_hold),
                                         200, 'pgtap-f-settle', allow_overage => true) $$,
                 'LB006', NULL, 'an overage that does not fit fails LB006');
SELECT results_eq(
  $$ SELECT kind, amount, balance, reserved
       FROM ledger_settle('pgtap-f/team/agent', (SELECT reservation_id FROM f_hold), 95,
                          'pgtap-f-settle', allow_overage => true) $$,
  $$ VALUES ('settle', 95::bigint, -100::bigint, 0::bigint) $$,
  'an overage that fits captures more than was held');
SELECT is((ledger_reservation('pgtap-f/team/agent', (SELECT reservation_id FROM f_hold))).captured,
          95::bigint, 'the reservation records the whole capture');
SELECT throws_ok($$ SELECT ledger_settle('pgtap-f/team/agent', (SELECT reservation_id FROM f_hold),
                                         95, 'pgtap-f-settle') $$,
                 'LB007', NULL, 'the same key without allow_overage fails LB007');

-- on_expire.
SELECT throws_ok($$ SELECT ledger_reserve('pgtap-f', 1, '1 hour', 'pgtap-f-keep', on_expire => 'keep') $$,
                 '22023', NULL, 'an on_expire other than refund or capture fails 22023');
SELECT is((ledger_reservation('pgtap-f/team/agent',
                              (SELECT reservation_id FROM f_hold))).on_expire,
          'refund', 'a hold refunds on expiry by default');
SELECT results_eq(
  $$ SELECT p.capped, p.overdraft, p.max_active,
            (SELECT array_agg(l->>'period') FROM jsonb_array_elements(p.limits) l)
       FROM ledger_policy('pgtap-f/team/agent') p $$,
  $$ VALUES (false, 0::bigint, NULL::integer, NULL::text[]) $$,
  'the policy of an uncapped agent without limits');
RESET baseledger.clock_offset;
RESET baseledger.timezone;

-- ---------------------------------------------------------------- verify

SELECT is_empty($$ SELECT * FROM ledger_verify('pgtap-b') $$,
                'ledger_verify(wallet) finds no divergence');
SELECT is_empty($$ SELECT * FROM ledger_verify() $$,
                'ledger_verify() finds no divergence in any wallet');

SELECT * FROM finish();
ROLLBACK;
