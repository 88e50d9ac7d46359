-- The function contract of baseledger: for each function of schema ledger,
-- its exact signature (argument names, types and defaults), return type,
-- language, volatility, non-strictness and comment; NULL required arguments
-- raise 22004 rather than return NULL; and the privileges: no EXECUTE for
-- PUBLIC, exactly the documented set of functions for each baseledger role,
-- and no direct access to the tables for anyone but their owner.
-- Everything runs in one transaction that is rolled back.
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
-- Types are compared as the catalog prints them: unqualified when visible.
SET search_path = ledger, public;

SELECT plan(290);

-- ---------------------------------------------------------------- the API

SELECT functions_are('ledger', ARRAY[
  'ledger_create_wallet', 'ledger_credit', 'ledger_debit', 'ledger_reserve', 'ledger_settle',
  'ledger_cancel', 'ledger_extend', 'ledger_expire', 'ledger_balance', 'ledger_reservation',
  'ledger_history', 'ledger_verify', 'ledger_schedule_expiry', 'ledger_unschedule_expiry',
  'ledger_reserve_batch', 'ledger_settle_batch', 'ledger_events_immutable', 'ledger_head',
  'ledger_grant', 'ledger_revoke', 'ledger_set_overdraft', 'ledger_set_concurrency',
  'ledger_set_limit', 'ledger_policy', 'ledger_set_alert', 'ledger_alerts'],
  'schema ledger has exactly the functions of the API and the immutability trigger');

-- One row per function: argument types, the exact argument list as
-- pg_get_function_arguments() prints it (names, types, defaults), the result
-- as pg_get_function_result() prints it, what function_returns() sees,
-- language and volatility.
CREATE TEMP TABLE api (
  fn name, argtypes name[], arguments text, result text, returns text, lang name,
  volatility text);
INSERT INTO api VALUES
  ('ledger_create_wallet', '{text,text,jsonb,boolean}',
   'wallet_id text, unit text DEFAULT ''credits''::text, metadata jsonb DEFAULT NULL::jsonb, '
     'capped boolean DEFAULT true',
   'wallet_balance', 'wallet_balance', 'c', 'volatile'),
  ('ledger_credit', '{text,bigint,text,jsonb}',
   'wallet_id text, amount bigint, idempotency_key text, metadata jsonb DEFAULT NULL::jsonb',
   'ledger_result', 'ledger_result', 'c', 'volatile'),
  ('ledger_debit', '{text,bigint,text,jsonb}',
   'wallet_id text, amount bigint, idempotency_key text, metadata jsonb DEFAULT NULL::jsonb',
   'ledger_result', 'ledger_result', 'c', 'volatile'),
  ('ledger_reserve', '{text,bigint,interval,text,jsonb,text}',
   'wallet_id text, amount bigint, ttl interval, idempotency_key text, '
     'metadata jsonb DEFAULT NULL::jsonb, on_expire text DEFAULT ''refund''::text',
   'ledger_result', 'ledger_result', 'c', 'volatile'),
  ('ledger_settle', '{text,uuid,bigint,text,jsonb,boolean}',
   'wallet_id text, reservation_id uuid, amount bigint, idempotency_key text, '
     'metadata jsonb DEFAULT NULL::jsonb, allow_overage boolean DEFAULT false',
   'ledger_result', 'ledger_result', 'c', 'volatile'),
  ('ledger_cancel', '{text,uuid,text,jsonb}',
   'wallet_id text, reservation_id uuid, idempotency_key text, metadata jsonb DEFAULT NULL::jsonb',
   'ledger_result', 'ledger_result', 'c', 'volatile'),
  ('ledger_extend', '{text,uuid,interval,text}',
   'wallet_id text, reservation_id uuid, ttl interval, idempotency_key text',
   'ledger_result', 'ledger_result', 'c', 'volatile'),
  ('ledger_expire', '{integer}',
   'max_rows integer DEFAULT 10000',
   'integer', 'integer', 'c', 'volatile'),
  ('ledger_balance', '{text}',
   'wallet_id text',
   'wallet_balance', 'wallet_balance', 'c', 'stable'),
  ('ledger_reservation', '{text,uuid}',
   'wallet_id text, reservation_id uuid',
   'reservation_status', 'reservation_status', 'c', 'stable'),
  ('ledger_history', '{text,bigint,integer}',
   'wallet_id text, after_seq bigint DEFAULT 0, max_rows integer DEFAULT 100',
   'TABLE(wallet_id text, seq bigint, kind text, amount bigint, reservation_id uuid, '
     'idempotency_key text, balance bigint, reserved bigint, at timestamp with time zone, '
     'metadata jsonb)',
   'setof record', 'c', 'stable'),
  ('ledger_verify', '{text}',
   'wallet_id text DEFAULT NULL::text',
   'TABLE(wallet_id text, problem text)',
   'setof record', 'c', 'stable'),
  ('ledger_schedule_expiry', '{text}',
   'schedule text DEFAULT ''* * * * *''::text',
   'bigint', 'bigint', 'plpgsql', 'volatile'),
  ('ledger_unschedule_expiry', '{}',
   '',
   'boolean', 'boolean', 'plpgsql', 'volatile'),
  ('ledger_reserve_batch', '{text[],bigint[],interval[],text[],jsonb[]}',
   'wallet_ids text[], amounts bigint[], ttls interval[], idempotency_keys text[], '
     'metadata jsonb[] DEFAULT NULL::jsonb[]',
   'TABLE(ordinal integer, sqlstate text, message text, wallet_id text, seq bigint, '
     'kind text, reservation_id uuid, amount bigint, balance bigint, reserved bigint, '
     'available bigint, expires_at timestamp with time zone, at timestamp with time zone, '
     'replayed boolean)',
   'setof record', 'c', 'volatile'),
  ('ledger_settle_batch', '{text[],uuid[],bigint[],text[],jsonb[]}',
   'wallet_ids text[], reservation_ids uuid[], amounts bigint[], idempotency_keys text[], '
     'metadata jsonb[] DEFAULT NULL::jsonb[]',
   'TABLE(ordinal integer, sqlstate text, message text, wallet_id text, seq bigint, '
     'kind text, reservation_id uuid, amount bigint, balance bigint, reserved bigint, '
     'available bigint, expires_at timestamp with time zone, at timestamp with time zone, '
     'replayed boolean)',
   'setof record', 'c', 'volatile'),
  ('ledger_events_immutable', '{}',
   '',
   'trigger', 'trigger', 'c', 'volatile'),
  ('ledger_head', '{text,bigint}',
   'wallet_id text, seq bigint DEFAULT NULL::bigint',
   'TABLE(wallet_id text, seq bigint, hash bytea)',
   'setof record', 'c', 'stable'),
  ('ledger_grant', '{regrole,text,text}',
   'role regrole, wallet_id text, privilege text',
   'boolean', 'boolean', 'c', 'volatile'),
  ('ledger_revoke', '{regrole,text,text}',
   'role regrole, wallet_id text, privilege text',
   'boolean', 'boolean', 'c', 'volatile'),
  ('ledger_set_overdraft', '{text,bigint}',
   'wallet_id text, amount bigint',
   'wallet_policy', 'wallet_policy', 'c', 'volatile'),
  ('ledger_set_concurrency', '{text,integer}',
   'wallet_id text, max_active integer',
   'wallet_policy', 'wallet_policy', 'c', 'volatile'),
  ('ledger_set_limit', '{text,text,bigint,integer}',
   'wallet_id text, period text, max_amount bigint, max_requests integer',
   'wallet_policy', 'wallet_policy', 'c', 'volatile'),
  ('ledger_policy', '{text}',
   'wallet_id text',
   'wallet_policy', 'wallet_policy', 'c', 'stable'),
  ('ledger_set_alert', '{text,text,bigint,text}',
   'wallet_id text, kind text, threshold bigint, period text DEFAULT NULL::text',
   'void', 'void', 'c', 'volatile'),
  ('ledger_alerts', '{text,bigint,integer}',
   'wallet_id text DEFAULT NULL::text, after_id bigint DEFAULT 0, max_rows integer DEFAULT 100',
   'TABLE(alert_id bigint, wallet_id text, kind text, period text, threshold bigint, '
     'value bigint, at timestamp with time zone)',
   'setof record', 'c', 'stable');

-- Looks a function of the table up by its signature; NULL when it is missing,
-- so that every check below fails (rather than errors) for a missing function.
CREATE FUNCTION pg_temp.proc(fn name, argtypes name[]) RETURNS regprocedure
  LANGUAGE sql STABLE AS $$
    SELECT to_regprocedure(format('ledger.%I(%s)', fn, array_to_string(argtypes, ',')))
$$;
CREATE FUNCTION pg_temp.sig(fn name, argtypes name[]) RETURNS text
  LANGUAGE sql IMMUTABLE AS $$
    SELECT format('ledger.%s(%s)', fn, array_to_string(argtypes, ', '))
$$;

-- 26 functions, 8 checks each.
SELECT has_function('ledger', fn, argtypes, pg_temp.sig(fn, argtypes) || ' exists')
  FROM api;
SELECT is(pg_get_function_arguments(pg_temp.proc(fn, argtypes)), arguments,
          pg_temp.sig(fn, argtypes) || ' argument names and defaults')
  FROM api;
SELECT is(pg_get_function_result(pg_temp.proc(fn, argtypes)), result,
          pg_temp.sig(fn, argtypes) || ' result is ' || result)
  FROM api;
SELECT function_returns('ledger', fn, argtypes, returns,
                        pg_temp.sig(fn, argtypes) || ' returns ' || returns)
  FROM api;
SELECT function_lang_is('ledger', fn, argtypes, lang,
                        pg_temp.sig(fn, argtypes) || ' is written in ' || lang)
  FROM api;
SELECT volatility_is('ledger', fn, argtypes, volatility,
                     pg_temp.sig(fn, argtypes) || ' is ' || upper(volatility))
  FROM api;
-- Not STRICT: a NULL required argument must raise 22004, never return NULL.
SELECT isnt_strict('ledger', fn, argtypes, pg_temp.sig(fn, argtypes) || ' is not STRICT')
  FROM api;
SELECT ok(coalesce(obj_description(pg_temp.proc(fn, argtypes), 'pg_proc'), '') <> '',
          pg_temp.sig(fn, argtypes) || ' has a COMMENT')
  FROM api;

-- 0.3.0 replaced these signatures: the old ones are gone, so that a call
-- with the old arguments resolves to the new function and its defaults.
SELECT hasnt_function('ledger', fn, argtypes, pg_temp.sig(fn, argtypes) || ' no longer exists')
  FROM (VALUES ('ledger_create_wallet'::name, '{text,text,jsonb}'::name[]),
               ('ledger_reserve', '{text,bigint,interval,text,jsonb}'),
               ('ledger_settle', '{text,uuid,bigint,text,jsonb}')) AS old(fn, argtypes);

-- Also for any function not in the table above.
SELECT is_empty($$
  SELECT p.oid::regprocedure::text FROM pg_proc p
   WHERE p.pronamespace = 'ledger'::regnamespace
     AND coalesce(obj_description(p.oid, 'pg_proc'), '') = ''
$$, 'no function in schema ledger is without a COMMENT');

-- ---------------------------------------------------------------- NULL arguments

SELECT lives_ok($$ SELECT ledger_create_wallet('pgtap-fn') $$,
                'setup: wallet pgtap-fn is created');
SELECT lives_ok($$ SELECT ledger_credit('pgtap-fn', 100, 'pgtap-fn-credit') $$,
                'setup: wallet pgtap-fn is credited');

-- Writes.
SELECT throws_ok($$ SELECT ledger_create_wallet(NULL) $$, '22004', NULL,
                 'ledger_create_wallet(NULL) raises 22004');
SELECT throws_ok($$ SELECT ledger_create_wallet('pgtap-fn', NULL) $$, '22004', NULL,
                 'ledger_create_wallet with a NULL unit raises 22004');
SELECT throws_ok($$ SELECT ledger_credit('pgtap-fn', NULL, 'pgtap-fn-null-amount') $$,
                 '22004', NULL, 'ledger_credit with a NULL amount raises 22004');
SELECT throws_ok($$ SELECT ledger_debit('pgtap-fn', 1, NULL) $$, '22004', NULL,
                 'ledger_debit with a NULL idempotency_key raises 22004');
SELECT throws_ok($$ SELECT ledger_reserve('pgtap-fn', 1, NULL, 'pgtap-fn-null-ttl') $$,
                 '22004', NULL, 'ledger_reserve with a NULL ttl raises 22004');
SELECT throws_ok($$ SELECT ledger_settle('pgtap-fn', NULL, 1, 'pgtap-fn-null-rid') $$,
                 '22004', NULL, 'ledger_settle with a NULL reservation_id raises 22004');
-- Reads.
SELECT throws_ok($$ SELECT ledger_balance(NULL) $$, '22004', NULL,
                 'ledger_balance(NULL) raises 22004');
SELECT throws_ok($$ SELECT ledger_reservation('pgtap-fn', NULL) $$, '22004', NULL,
                 'ledger_reservation with a NULL reservation_id raises 22004');
SELECT throws_ok($$ SELECT * FROM ledger_history('pgtap-fn', NULL) $$, '22004', NULL,
                 'ledger_history with a NULL after_seq raises 22004');
SELECT throws_ok($$ SELECT * FROM ledger_head(NULL) $$, '22004', NULL,
                 'ledger_head(NULL) raises 22004');
-- Grants.
SELECT throws_ok($$ SELECT ledger_grant(NULL, 'pgtap-fn', 'read') $$, '22004', NULL,
                 'ledger_grant with a NULL role raises 22004');
SELECT throws_ok($$ SELECT ledger_grant('baseledger_client', NULL, 'read') $$, '22004', NULL,
                 'ledger_grant with a NULL wallet_id raises 22004');
SELECT throws_ok($$ SELECT ledger_grant('baseledger_client', 'pgtap-fn', NULL) $$, '22004', NULL,
                 'ledger_grant with a NULL privilege raises 22004');
SELECT throws_ok($$ SELECT ledger_revoke(NULL, 'pgtap-fn', 'read') $$, '22004', NULL,
                 'ledger_revoke with a NULL role raises 22004');
SELECT throws_ok($$ SELECT ledger_revoke('baseledger_client', NULL, 'read') $$, '22004', NULL,
                 'ledger_revoke with a NULL wallet_id raises 22004');
SELECT throws_ok($$ SELECT ledger_revoke('baseledger_client', 'pgtap-fn', NULL) $$, '22004', NULL,
                 'ledger_revoke with a NULL privilege raises 22004');
-- Policies and alerts.
SELECT throws_ok($$ SELECT ledger_create_wallet('pgtap-fn', 'credits', NULL, NULL) $$, '22004', NULL,
                 'ledger_create_wallet with a NULL capped raises 22004');
SELECT throws_ok($$ SELECT ledger_set_overdraft(NULL, 1) $$, '22004', NULL,
                 'ledger_set_overdraft with a NULL wallet_id raises 22004');
SELECT throws_ok($$ SELECT ledger_set_overdraft('pgtap-fn', NULL) $$, '22004', NULL,
                 'ledger_set_overdraft with a NULL amount raises 22004');
SELECT throws_ok($$ SELECT ledger_set_concurrency(NULL, 1) $$, '22004', NULL,
                 'ledger_set_concurrency with a NULL wallet_id raises 22004');
SELECT throws_ok($$ SELECT ledger_set_limit('pgtap-fn', NULL, 1, NULL) $$, '22004', NULL,
                 'ledger_set_limit with a NULL period raises 22004');
SELECT throws_ok($$ SELECT ledger_policy(NULL) $$, '22004', NULL,
                 'ledger_policy(NULL) raises 22004');
SELECT throws_ok($$ SELECT ledger_set_alert('pgtap-fn', NULL, 1) $$, '22004', NULL,
                 'ledger_set_alert with a NULL kind raises 22004');
SELECT throws_ok($$ SELECT * FROM ledger_alerts('pgtap-fn', NULL) $$, '22004', NULL,
                 'ledger_alerts with a NULL after_id raises 22004');
-- Upkeep: ledger_verify(NULL) is documented to mean all wallets.
SELECT throws_ok($$ SELECT ledger_expire(NULL) $$, '22004', NULL,
                 'ledger_expire(NULL) raises 22004');
SELECT lives_ok($$ SELECT * FROM ledger_verify(NULL) $$,
                'ledger_verify(NULL) verifies every wallet');
-- The failed calls left no trace: only the setup credit was written.
SELECT is((ledger_balance('pgtap-fn')).last_seq, 1::bigint,
          'the calls refused for a NULL argument wrote no event');
SELECT is((SELECT count(*) FROM ledger.grants), 0::bigint,
          'the grant calls refused for a NULL argument wrote no grant');
SELECT results_eq($$ SELECT p.capped, p.overdraft, p.max_active, coalesce(p.limits, '[]') FROM ledger_policy('pgtap-fn') p $$,
                  $$ VALUES (true, 0::bigint, NULL::integer, '[]'::jsonb) $$,
                  'the policy calls refused for a NULL argument changed no policy');

-- ---------------------------------------------------------------- privileges

SELECT table_privs_are('ledger', 'wallets', 'public', ARRAY[]::name[],
                       'PUBLIC has no privilege on ledger.wallets');
SELECT table_privs_are('ledger', 'events', 'public', ARRAY[]::name[],
                       'PUBLIC has no privilege on ledger.events');
SELECT table_privs_are('ledger', 'reservations', 'public', ARRAY[]::name[],
                       'PUBLIC has no privilege on ledger.reservations');
SELECT table_privs_are('ledger', 'grants', 'public', ARRAY[]::name[],
                       'PUBLIC has no privilege on ledger.grants');
SELECT table_privs_are('ledger', t, 'public', ARRAY[]::name[],
                       format('PUBLIC has no privilege on ledger.%s', t))
  FROM unnest(ARRAY['limits', 'limit_usage', 'alert_rules', 'alerts']) t;
-- Nor do the baseledger roles: they reach the tables only through the functions.
SELECT table_privs_are('ledger', t, r, ARRAY[]::name[],
                       format('%s has no privilege on ledger.%s', r, t))
  FROM unnest(ARRAY['wallets', 'events', 'reservations', 'grants', 'limits', 'limit_usage',
                    'alert_rules']) t,
       unnest(ARRAY['baseledger_admin', 'baseledger_client', 'baseledger_auditor']) r;
SELECT is_empty($$
  SELECT r || ' ' || p || ' ledger.' || t
    FROM unnest(ARRAY['wallets', 'events', 'reservations', 'grants', 'limits', 'limit_usage',
                      'alert_rules']) t,
         unnest(ARRAY['baseledger_admin', 'baseledger_client', 'baseledger_auditor']) r,
         unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) p
   WHERE has_table_privilege(r, format('ledger.%I', t), p)
$$, 'no baseledger role may read or write a ledger table directly, not even through a membership');
-- The fired alerts can be polled: admin and auditor read ledger.alerts, and
-- nobody writes it.
SELECT table_privs_are('ledger', 'alerts', r, ARRAY['SELECT'],
                       format('%s may only SELECT from ledger.alerts', r))
  FROM unnest(ARRAY['baseledger_admin', 'baseledger_auditor']) r;
SELECT table_privs_are('ledger', 'alerts', 'baseledger_client', ARRAY[]::name[],
                       'baseledger_client has no privilege on ledger.alerts');
SELECT is_empty($$
  SELECT r || ' ' || p || ' ledger.alerts'
    FROM unnest(ARRAY['baseledger_admin', 'baseledger_client', 'baseledger_auditor']) r,
         unnest(ARRAY['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) p
   WHERE has_table_privilege(r, 'ledger.alerts', p)
$$, 'no baseledger role may write ledger.alerts, not even through a membership');
SELECT ok(NOT has_table_privilege('baseledger_client', 'ledger.alerts', 'SELECT'),
          'baseledger_client may not read ledger.alerts, not even through a membership');

-- Schema ledger: USAGE for the three roles only.
SELECT schema_privs_are('ledger', 'public', ARRAY[]::name[],
                        'PUBLIC has no privilege on schema ledger');
SELECT schema_privs_are('ledger', r, ARRAY['USAGE'],
                        format('%s has USAGE and nothing else on schema ledger', r))
  FROM unnest(ARRAY['baseledger_admin', 'baseledger_client', 'baseledger_auditor']) r;

-- Functions: PUBLIC may execute none of them (the default ACL of a function
-- would let it: the grant must be revoked explicitly).
SELECT is_empty($$
  SELECT p.oid::regprocedure::text
    FROM pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
   WHERE p.pronamespace = 'ledger'::regnamespace
     AND a.grantee = 0 AND a.privilege_type = 'EXECUTE'
$$, 'PUBLIC has EXECUTE on no function of schema ledger');

-- The functions run as their caller: none is SECURITY DEFINER. The two
-- written in PL/pgSQL pin their search_path.
SELECT is_empty($$
  SELECT p.oid::regprocedure::text FROM pg_proc p
   WHERE p.pronamespace = 'ledger'::regnamespace AND p.prosecdef
$$, 'no function of schema ledger is SECURITY DEFINER');
SELECT results_eq($$
  SELECT p.proname::text COLLATE "default", array_to_string(p.proconfig, ';') COLLATE "default"
    FROM pg_proc p
   WHERE p.pronamespace = 'ledger'::regnamespace
     AND p.prolang = (SELECT oid FROM pg_language WHERE lanname = 'plpgsql')
   ORDER BY p.proname COLLATE "C"
$$, $$ VALUES ('ledger_schedule_expiry', 'search_path=pg_catalog, pg_temp'),
              ('ledger_unschedule_expiry', 'search_path=pg_catalog, pg_temp') $$,
  'the PL/pgSQL functions of schema ledger run with search_path = pg_catalog, pg_temp');

-- Each role may execute exactly the functions the README documents for it.
CREATE TEMP TABLE role_functions (role name, fn text);
INSERT INTO role_functions
  SELECT 'baseledger_admin', p.oid::regprocedure::text
    FROM pg_proc p WHERE p.pronamespace = 'ledger'::regnamespace;
INSERT INTO role_functions VALUES
  ('baseledger_client', 'ledger_debit(text,bigint,text,jsonb)'),
  ('baseledger_client', 'ledger_reserve(text,bigint,interval,text,jsonb,text)'),
  ('baseledger_client', 'ledger_settle(text,uuid,bigint,text,jsonb,boolean)'),
  ('baseledger_client', 'ledger_cancel(text,uuid,text,jsonb)'),
  ('baseledger_client', 'ledger_extend(text,uuid,interval,text)'),
  ('baseledger_client', 'ledger_reserve_batch(text[],bigint[],interval[],text[],jsonb[])'),
  ('baseledger_client', 'ledger_settle_batch(text[],uuid[],bigint[],text[],jsonb[])'),
  ('baseledger_client', 'ledger_balance(text)'),
  ('baseledger_client', 'ledger_reservation(text,uuid)'),
  ('baseledger_client', 'ledger_history(text,bigint,integer)'),
  ('baseledger_client', 'ledger_head(text,bigint)'),
  ('baseledger_client', 'ledger_policy(text)'),
  ('baseledger_client', 'ledger_alerts(text,bigint,integer)'),
  ('baseledger_auditor', 'ledger_balance(text)'),
  ('baseledger_auditor', 'ledger_reservation(text,uuid)'),
  ('baseledger_auditor', 'ledger_history(text,bigint,integer)'),
  ('baseledger_auditor', 'ledger_head(text,bigint)'),
  ('baseledger_auditor', 'ledger_verify(text)'),
  ('baseledger_auditor', 'ledger_policy(text)'),
  ('baseledger_auditor', 'ledger_alerts(text,bigint,integer)');
SELECT is((SELECT count(*) FROM role_functions WHERE role = 'baseledger_admin'), 26::bigint,
          'baseledger_admin: every one of the 26 functions of schema ledger');
SELECT set_eq(
  format($$ SELECT p.oid::regprocedure::text FROM pg_proc p
             WHERE p.pronamespace = 'ledger'::regnamespace
               AND has_function_privilege(%L, p.oid, 'EXECUTE') $$, r),
  format($$ SELECT fn FROM role_functions WHERE role = %L $$, r),
  format('%s may execute exactly its documented functions', r))
  FROM unnest(ARRAY['baseledger_admin', 'baseledger_client', 'baseledger_auditor']) r;

SELECT * FROM finish();
ROLLBACK;
