-- The catalog contract of baseledger: the schema, its tables with their
-- columns, keys, indexes and constraints (the wallet hierarchy's policies,
-- period limits and alerts included), its types, the triggers that keep
-- the event log append-only, and the roles the extension creates. Everything runs in one transaction that is
-- rolled back, so the shared database is left as it was found.
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
-- Types are compared as format_type() prints them: unqualified when visible.
SET search_path = ledger, public;

SELECT plan(208);

-- ---------------------------------------------------------------- schema

SELECT has_schema('ledger', 'schema ledger exists');
SELECT has_extension('ledger', 'baseledger', 'extension baseledger is installed in schema ledger');
SELECT is(
  (SELECT e.extrelocatable FROM pg_extension e WHERE e.extname = 'baseledger'),
  false, 'baseledger is not relocatable: its schema is always ledger');

-- Every table, type and function of schema ledger belongs to the extension,
-- so that DROP EXTENSION removes them and pg_dump does not dump them.
SELECT is_empty($$
  SELECT c.oid::regclass::text
    FROM pg_class c
   WHERE c.relnamespace = 'ledger'::regnamespace
     AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
     AND NOT EXISTS (SELECT 1 FROM pg_depend d
                      WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                        AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
                        AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'baseledger'))
  UNION ALL
  SELECT t.oid::regtype::text
    FROM pg_type t
   WHERE t.typnamespace = 'ledger'::regnamespace
     AND t.typtype IN ('e', 'c', 'd', 'b', 'r', 'm')
     AND t.typelem = 0
     AND (t.typrelid = 0 OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
     AND NOT EXISTS (SELECT 1 FROM pg_depend d
                      WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid
                        AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
                        AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'baseledger'))
  UNION ALL
  SELECT p.oid::regprocedure::text
    FROM pg_proc p
   WHERE p.pronamespace = 'ledger'::regnamespace
     AND NOT EXISTS (SELECT 1 FROM pg_depend d
                      WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                        AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
                        AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'baseledger'))
$$, 'every table, type and function in schema ledger is a member of extension baseledger');

SELECT tables_are('ledger',
                  ARRAY['wallets', 'events', 'reservations', 'grants', 'limits', 'limit_usage',
                        'alert_rules', 'alerts'],
                  'schema ledger has exactly the tables wallets, events, reservations, grants, limits, limit_usage, alert_rules and alerts');
SELECT types_are('ledger',
                 ARRAY['event_kind', 'reservation_state', 'ledger_result', 'wallet_balance',
                       'reservation_status', 'wallet_policy'],
                 'schema ledger has exactly the types of the API');

-- ---------------------------------------------------------------- tables

SELECT has_table('ledger', 'wallets', 'table ledger.wallets exists');
SELECT has_table('ledger', 'events', 'table ledger.events exists');
SELECT has_table('ledger', 'reservations', 'table ledger.reservations exists');
SELECT has_table('ledger', 'grants', 'table ledger.grants exists');
SELECT has_table('ledger', 'limits', 'table ledger.limits exists');
SELECT has_table('ledger', 'limit_usage', 'table ledger.limit_usage exists');
SELECT has_table('ledger', 'alert_rules', 'table ledger.alert_rules exists');
SELECT has_table('ledger', 'alerts', 'table ledger.alerts exists');

SELECT columns_are('ledger', 'wallets',
  ARRAY['wallet_id', 'unit', 'balance', 'reserved', 'active_reservations', 'last_seq',
        'last_at', 'created_at', 'metadata', 'last_hash', 'overdraft', 'max_active',
        'children', 'has_limits', 'has_alerts', 'root_id', 'next_expiry'],
  'ledger.wallets has exactly the expected columns');
SELECT columns_are('ledger', 'events',
  ARRAY['wallet_id', 'seq', 'kind', 'amount', 'reservation_id', 'idempotency_key',
        'fingerprint', 'balance', 'reserved', 'expires_at', 'at', 'metadata', 'hash',
        'origin_wallet_id'],
  'ledger.events has exactly the expected columns');
SELECT columns_are('ledger', 'reservations',
  ARRAY['reservation_id', 'wallet_id', 'amount', 'captured', 'state', 'expires_at',
        'created_at', 'updated_at', 'capture_on_expire'],
  'ledger.reservations has exactly the expected columns');
SELECT columns_are('ledger', 'grants',
  ARRAY['wallet_id', 'role_id', 'privilege', 'granted_at'],
  'ledger.grants has exactly the expected columns');
SELECT columns_are('ledger', 'limits',
  ARRAY['wallet_id', 'period', 'max_amount', 'max_requests'],
  'ledger.limits has exactly the expected columns');
SELECT columns_are('ledger', 'limit_usage',
  ARRAY['wallet_id', 'period', 'period_start', 'amount', 'requests'],
  'ledger.limit_usage has exactly the expected columns');
SELECT columns_are('ledger', 'alert_rules',
  ARRAY['wallet_id', 'kind', 'period', 'threshold', 'armed'],
  'ledger.alert_rules has exactly the expected columns');
SELECT columns_are('ledger', 'alerts',
  ARRAY['alert_id', 'wallet_id', 'kind', 'period', 'threshold', 'value', 'at'],
  'ledger.alerts has exactly the columns alert_id, wallet_id, kind, period, threshold, value, at');

-- Each column: its type, and whether it may be NULL (66 columns, 2 tests each).
CREATE TEMP TABLE expected_columns (tab name, col name, typ text, not_null boolean);
INSERT INTO expected_columns VALUES
  ('wallets', 'wallet_id',           'text',                     true),
  ('wallets', 'unit',                'text',                     true),
  ('wallets', 'balance',             'bigint',                   true),
  ('wallets', 'reserved',            'bigint',                   true),
  ('wallets', 'active_reservations', 'integer',                  true),
  ('wallets', 'last_seq',            'bigint',                   true),
  ('wallets', 'last_at',             'timestamp with time zone', false),
  ('wallets', 'created_at',          'timestamp with time zone', true),
  ('wallets', 'metadata',            'jsonb',                    false),
  ('wallets', 'last_hash',           'bytea',                    false),
  ('wallets', 'overdraft',           'bigint',                   false),
  ('wallets', 'max_active',          'integer',                  false),
  ('wallets', 'children',            'integer',                  true),
  ('wallets', 'has_limits',          'boolean',                  true),
  ('wallets', 'has_alerts',          'boolean',                  true),
  ('wallets', 'root_id',             'text',                     true),
  ('wallets', 'next_expiry',         'timestamp with time zone', false),
  ('events', 'wallet_id',            'text',                     true),
  ('events', 'seq',                  'bigint',                   true),
  ('events', 'kind',                 'event_kind',               true),
  ('events', 'amount',               'bigint',                   true),
  ('events', 'reservation_id',       'uuid',                     false),
  ('events', 'idempotency_key',      'text',                     false),
  ('events', 'fingerprint',          'bytea',                    false),
  ('events', 'balance',              'bigint',                   true),
  ('events', 'reserved',             'bigint',                   true),
  ('events', 'expires_at',           'timestamp with time zone', false),
  ('events', 'at',                   'timestamp with time zone', true),
  ('events', 'metadata',             'jsonb',                    false),
  ('events', 'hash',                 'bytea',                    true),
  ('events', 'origin_wallet_id',     'text',                     false),
  ('reservations', 'reservation_id', 'uuid',                     true),
  ('reservations', 'wallet_id',      'text',                     true),
  ('reservations', 'amount',         'bigint',                   true),
  ('reservations', 'captured',       'bigint',                   true),
  ('reservations', 'state',          'reservation_state',        true),
  ('reservations', 'expires_at',     'timestamp with time zone', true),
  ('reservations', 'created_at',     'timestamp with time zone', true),
  ('reservations', 'updated_at',     'timestamp with time zone', true),
  ('reservations', 'capture_on_expire', 'boolean',             true),
  ('grants', 'wallet_id',            'text',                     true),
  ('grants', 'role_id',              'regrole',                  true),
  ('grants', 'privilege',            'text',                     true),
  ('grants', 'granted_at',           'timestamp with time zone', true),
  ('limits', 'wallet_id',            'text',                     true),
  ('limits', 'period',               'text',                     true),
  ('limits', 'max_amount',           'bigint',                   false),
  ('limits', 'max_requests',         'integer',                  false),
  ('limit_usage', 'wallet_id',       'text',                     true),
  ('limit_usage', 'period',          'text',                     true),
  ('limit_usage', 'period_start',    'timestamp with time zone', true),
  ('limit_usage', 'amount',          'bigint',                   true),
  ('limit_usage', 'requests',        'bigint',                   true),
  ('alert_rules', 'wallet_id',       'text',                     true),
  ('alert_rules', 'kind',            'text',                     true),
  ('alert_rules', 'period',          'text',                     true),
  ('alert_rules', 'threshold',       'bigint',                   true),
  ('alert_rules', 'armed',           'boolean',                  true),
  ('alerts', 'alert_id',             'bigint',                   true),
  ('alerts', 'wallet_id',            'text',                     true),
  ('alerts', 'kind',                 'text',                     true),
  ('alerts', 'period',               'text',                     false),
  ('alerts', 'threshold',            'bigint',                   true),
  ('alerts', 'value',                'bigint',                   true),
  ('alerts', 'at',                   'timestamp with time zone', true);

SELECT col_type_is('ledger', tab, col, typ,
                   format('ledger.%s.%s is %s', tab, col, typ))
  FROM expected_columns;
SELECT CASE WHEN not_null
            THEN col_not_null('ledger', tab, col, format('ledger.%s.%s is NOT NULL', tab, col))
            ELSE col_is_null('ledger', tab, col, format('ledger.%s.%s allows NULL', tab, col))
       END
  FROM expected_columns;

-- Keys.
SELECT has_pk('ledger', 'wallets', 'ledger.wallets has a primary key');
SELECT col_is_pk('ledger', 'wallets', ARRAY['wallet_id'],
                 'ledger.wallets primary key is (wallet_id)');
SELECT has_pk('ledger', 'events', 'ledger.events has a primary key');
SELECT col_is_pk('ledger', 'events', ARRAY['wallet_id', 'seq'],
                 'ledger.events primary key is (wallet_id, seq)');
SELECT has_pk('ledger', 'reservations', 'ledger.reservations has a primary key');
SELECT col_is_pk('ledger', 'reservations', ARRAY['wallet_id', 'reservation_id'],
                 'ledger.reservations primary key is (wallet_id, reservation_id)');
SELECT has_pk('ledger', 'grants', 'ledger.grants has a primary key');
SELECT col_is_pk('ledger', 'grants', ARRAY['wallet_id', 'role_id', 'privilege'],
                 'ledger.grants primary key is (wallet_id, role_id, privilege)');
SELECT col_is_pk('ledger', 'limits', ARRAY['wallet_id', 'period'],
                 'ledger.limits primary key is (wallet_id, period): one limit per period');
SELECT col_is_pk('ledger', 'limit_usage', ARRAY['wallet_id', 'period', 'period_start'],
                 'ledger.limit_usage primary key is (wallet_id, period, period_start)');
SELECT col_is_pk('ledger', 'alert_rules', ARRAY['wallet_id', 'kind', 'period'],
                 'ledger.alert_rules primary key is (wallet_id, kind, period)');
SELECT col_is_pk('ledger', 'alerts', ARRAY['alert_id'],
                 'ledger.alerts primary key is (alert_id)');
-- alert_id increases with each alert, for paging.
SELECT ok(pg_get_serial_sequence('ledger.alerts', 'alert_id') IS NOT NULL,
          'ledger.alerts.alert_id is generated from a sequence');
-- Ids compare byte by byte, so that a grant's path prefix is exact.
SELECT is(
  (SELECT c.collname::text FROM pg_attribute a JOIN pg_collation c ON c.oid = a.attcollation
    WHERE a.attrelid = 'ledger.grants'::regclass AND a.attname = 'wallet_id'),
  'C', 'ledger.grants.wallet_id is COLLATE "C"');

-- The idempotency shield: a UNIQUE constraint (not only an index).
SELECT col_is_unique('ledger', 'events', ARRAY['wallet_id', 'idempotency_key'],
                     'ledger.events has UNIQUE (wallet_id, idempotency_key)');
SELECT results_eq($$
  SELECT conname::text COLLATE "default", pg_get_constraintdef(oid)
    FROM pg_constraint
   WHERE conrelid = 'ledger.events'::regclass AND contype = 'u'
$$, $$ VALUES ('events_idempotency_key', 'UNIQUE (wallet_id, idempotency_key)') $$,
  'the only UNIQUE constraint of ledger.events is events_idempotency_key (wallet_id, idempotency_key)');

-- Indexes on reservations: the key and one partial index over active holds.
SELECT indexes_are('ledger', 'reservations',
  ARRAY['reservations_pkey', 'reservations_wallet_active'],
  'ledger.reservations has exactly its key and the index of active holds');
SELECT has_index('ledger', 'reservations', 'reservations_wallet_active',
                 ARRAY['wallet_id', 'expires_at'],
                 'index reservations_wallet_active is on (wallet_id, expires_at)');
SELECT is(
  (SELECT pg_get_expr(i.indpred, i.indrelid) FROM pg_index i
    WHERE i.indexrelid = 'ledger.reservations_wallet_active'::regclass),
  '(state = ''active''::reservation_state)',
  'index reservations_wallet_active is partial: WHERE state = ''active''');

-- The CHECK constraints that guard the projection.
SELECT has_check('ledger', 'wallets', 'ledger.wallets has CHECK constraints');
SELECT results_eq($$
  SELECT conname::text COLLATE "default", pg_get_constraintdef(oid)
    FROM pg_constraint
   WHERE conrelid = 'ledger.wallets'::regclass AND contype = 'c'
   ORDER BY conname
$$, $$ VALUES ('wallets_available_within_credit_line',
               'CHECK (((balance - reserved) >= (- overdraft)))'),
              ('wallets_reserved_not_negative', 'CHECK ((reserved >= 0))') $$,
  'ledger.wallets checks that a capped wallet stays within its credit line (an uncapped one has none: NULL) and that reserved is not negative');
-- Every CHECK is evaluated on every write of a row: holds have none.
SELECT results_eq($$
  SELECT count(*)::integer FROM pg_constraint
   WHERE conrelid = 'ledger.reservations'::regclass AND contype = 'c'
$$, $$ VALUES (0) $$,
  'ledger.reservations has no CHECK constraint');
SELECT col_default_is('ledger', 'reservations', 'capture_on_expire', 'false',
                      'ledger.reservations.capture_on_expire defaults to false (refund)');
SELECT col_default_is('ledger', 'wallets', 'overdraft', '0',
                      'ledger.wallets.overdraft defaults to 0: capped, no credit line');
-- The hash chain: every event's hash is a SHA-256 (32 bytes).
SELECT results_eq($$
  SELECT conname::text COLLATE "default", pg_get_constraintdef(oid)
    FROM pg_constraint
   WHERE conrelid = 'ledger.events'::regclass AND contype = 'c'
   ORDER BY conname
$$, $$ VALUES ('events_hash_is_sha256', 'CHECK ((length(hash) = 32))') $$,
  'ledger.events checks that a hash is 32 bytes');
-- A grant is 'read' or 'spend'.
SELECT results_eq($$
  SELECT conname::text COLLATE "default", pg_get_constraintdef(oid)
    FROM pg_constraint
   WHERE conrelid = 'ledger.grants'::regclass AND contype = 'c'
   ORDER BY conname
$$, $$ VALUES ('grants_privilege_check',
               'CHECK ((privilege = ANY (ARRAY[''read''::text, ''spend''::text])))') $$,
  'ledger.grants checks that a privilege is read or spend');

-- ---------------------------------------------------------------- types

SELECT has_type('ledger', 'event_kind', 'type ledger.event_kind exists');
SELECT has_enum('ledger', 'event_kind', 'ledger.event_kind is an enum');
SELECT enum_has_labels('ledger', 'event_kind',
  ARRAY['credit', 'debit', 'reserve', 'settle', 'cancel', 'extend', 'expire'],
  'ledger.event_kind labels, in order');
SELECT has_type('ledger', 'reservation_state', 'type ledger.reservation_state exists');
SELECT has_enum('ledger', 'reservation_state', 'ledger.reservation_state is an enum');
SELECT enum_has_labels('ledger', 'reservation_state',
  ARRAY['active', 'settled', 'cancelled', 'expired'],
  'ledger.reservation_state labels, in order');

SELECT has_composite('ledger', 'ledger_result', 'composite type ledger.ledger_result exists');
SELECT results_eq($$
  SELECT attname::text COLLATE "default", format_type(atttypid, atttypmod)
    FROM pg_attribute
   WHERE attrelid = 'ledger.ledger_result'::regclass AND attnum > 0 AND NOT attisdropped
   ORDER BY attnum
$$, $$ VALUES ('wallet_id', 'text'), ('seq', 'bigint'), ('kind', 'text'),
              ('reservation_id', 'uuid'), ('amount', 'bigint'), ('balance', 'bigint'),
              ('reserved', 'bigint'), ('available', 'bigint'),
              ('expires_at', 'timestamp with time zone'), ('at', 'timestamp with time zone'),
              ('replayed', 'boolean') $$,
  'ledger.ledger_result attributes and types, in order');

SELECT has_composite('ledger', 'wallet_balance', 'composite type ledger.wallet_balance exists');
SELECT results_eq($$
  SELECT attname::text COLLATE "default", format_type(atttypid, atttypmod)
    FROM pg_attribute
   WHERE attrelid = 'ledger.wallet_balance'::regclass AND attnum > 0 AND NOT attisdropped
   ORDER BY attnum
$$, $$ VALUES ('wallet_id', 'text'), ('unit', 'text'), ('balance', 'bigint'),
              ('reserved', 'bigint'), ('available', 'bigint'),
              ('active_reservations', 'integer'), ('last_seq', 'bigint'),
              ('as_of', 'timestamp with time zone') $$,
  'ledger.wallet_balance attributes and types, in order');

SELECT has_composite('ledger', 'reservation_status',
                     'composite type ledger.reservation_status exists');
SELECT results_eq($$
  SELECT attname::text COLLATE "default", format_type(atttypid, atttypmod)
    FROM pg_attribute
   WHERE attrelid = 'ledger.reservation_status'::regclass AND attnum > 0 AND NOT attisdropped
   ORDER BY attnum
$$, $$ VALUES ('reservation_id', 'uuid'), ('wallet_id', 'text'), ('state', 'text'),
              ('amount', 'bigint'), ('captured', 'bigint'),
              ('expires_at', 'timestamp with time zone'),
              ('created_at', 'timestamp with time zone'),
              ('updated_at', 'timestamp with time zone'), ('on_expire', 'text') $$,
  'ledger.reservation_status attributes and types, in order');

SELECT has_composite('ledger', 'wallet_policy', 'composite type ledger.wallet_policy exists');
SELECT results_eq($$
  SELECT attname::text COLLATE "default", format_type(atttypid, atttypmod)
    FROM pg_attribute
   WHERE attrelid = 'ledger.wallet_policy'::regclass AND attnum > 0 AND NOT attisdropped
   ORDER BY attnum
$$, $$ VALUES ('wallet_id', 'text'), ('capped', 'boolean'), ('overdraft', 'bigint'),
              ('max_active', 'integer'), ('limits', 'jsonb') $$,
  'ledger.wallet_policy attributes and types, in order');

-- ---------------------------------------------------------------- triggers

SELECT triggers_are('ledger', 'events', ARRAY['events_no_update_delete', 'events_no_truncate'],
                    'ledger.events has exactly the two immutability triggers');
SELECT has_trigger('ledger', 'events', 'events_no_update_delete',
                   'trigger events_no_update_delete exists on ledger.events');
SELECT trigger_is('ledger', 'events', 'events_no_update_delete',
                  'ledger', 'ledger_events_immutable',
                  'events_no_update_delete calls ledger.ledger_events_immutable()');
SELECT is(
  (SELECT pg_get_triggerdef(oid) FROM pg_trigger
    WHERE tgrelid = 'ledger.events'::regclass AND tgname = 'events_no_update_delete'),
  'CREATE TRIGGER events_no_update_delete BEFORE DELETE OR UPDATE ON ledger.events '
    'FOR EACH ROW EXECUTE FUNCTION ledger_events_immutable()',
  'events_no_update_delete fires BEFORE UPDATE OR DELETE, FOR EACH ROW');
SELECT has_trigger('ledger', 'events', 'events_no_truncate',
                   'trigger events_no_truncate exists on ledger.events');
SELECT trigger_is('ledger', 'events', 'events_no_truncate',
                  'ledger', 'ledger_events_immutable',
                  'events_no_truncate calls ledger.ledger_events_immutable()');
SELECT is(
  (SELECT pg_get_triggerdef(oid) FROM pg_trigger
    WHERE tgrelid = 'ledger.events'::regclass AND tgname = 'events_no_truncate'),
  'CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON ledger.events '
    'FOR EACH STATEMENT EXECUTE FUNCTION ledger_events_immutable()',
  'events_no_truncate fires BEFORE TRUNCATE, FOR EACH STATEMENT');
-- ENABLE ALWAYS: the triggers fire even under session_replication_role = replica.
SELECT results_eq($$
  SELECT tgname::text COLLATE "default", tgenabled::text FROM pg_trigger
   WHERE tgrelid = 'ledger.events'::regclass AND NOT tgisinternal
   ORDER BY tgname
$$, $$ VALUES ('events_no_truncate', 'A'), ('events_no_update_delete', 'A') $$,
  'both immutability triggers are ENABLE ALWAYS');

-- ---------------------------------------------------------------- roles

-- Three roles to grant to login roles; none can log in or bypass anything.
SELECT has_role(r, format('role %s exists', r))
  FROM unnest(ARRAY['baseledger_admin', 'baseledger_client', 'baseledger_auditor']) r;
SELECT results_eq($$
  SELECT rolname::text COLLATE "default", rolcanlogin, rolsuper, rolcreaterole, rolcreatedb,
         rolreplication, rolbypassrls, rolinherit
    FROM pg_roles WHERE rolname IN ('baseledger_admin', 'baseledger_client', 'baseledger_auditor')
   ORDER BY rolname COLLATE "C"
$$, $$ VALUES ('baseledger_admin', false, false, false, false, false, false, true),
              ('baseledger_auditor', false, false, false, false, false, false, true),
              ('baseledger_client', false, false, false, false, false, false, true) $$,
  'the baseledger roles are NOLOGIN and hold no special attribute');
-- None of them is a member of another role, so none inherits more than its own grants.
SELECT is_empty($$
  SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member
   WHERE r.rolname IN ('baseledger_admin', 'baseledger_client', 'baseledger_auditor')
$$, 'no baseledger role is a member of another role');
SELECT ok(coalesce(shobj_description(oid, 'pg_authid'), '') <> '',
          format('role %s has a COMMENT', rolname))
  FROM pg_roles
 WHERE rolname IN ('baseledger_admin', 'baseledger_client', 'baseledger_auditor')
 ORDER BY rolname;

SELECT * FROM finish();
ROLLBACK;
