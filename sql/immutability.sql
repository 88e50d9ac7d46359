-- The event log is append-only: UPDATE, DELETE and TRUNCATE on ledger.events
-- are refused for every role, the table's owner and superusers included, also
-- under session_replication_role = replica. A role without grants cannot
-- write any of the ledger's tables directly.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS baseledger CASCADE;
CREATE EXTENSION baseledger;
DROP ROLE IF EXISTS regress_baseledger_intruder;
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
-- The error of a statement in full.
CREATE FUNCTION pg_temp.error_of(q text,
    OUT code text, OUT message text, OUT detail text, OUT hint text)
  LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  code := 'ok';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
                          detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
END $$;

SELECT count(*) FROM ledger_create_wallet('imm-a');
SELECT kind, balance FROM ledger_credit('imm-a', 100, 'fund');
SELECT kind, balance, reserved FROM ledger_reserve('imm-a', 30, '1 hour', 'hold');
SELECT kind, balance, reserved FROM ledger_debit('imm-a', 10, 'spend');
CREATE TEMP TABLE events_before AS SELECT * FROM ledger.events;
-- Differences between the event log and its copy, both ways.
CREATE FUNCTION pg_temp.events_changed() RETURNS bigint LANGUAGE sql AS $$
  SELECT count(*) FROM ((TABLE ledger.events EXCEPT ALL TABLE pg_temp.events_before)
                        UNION ALL
                        (TABLE pg_temp.events_before EXCEPT ALL TABLE ledger.events)) d
$$;

-- We are a superuser and own the tables.
SELECT t.tablename, t.tableowner = current_user AS owned_by_us, r.rolsuper AS superuser
  FROM pg_tables t, pg_roles r
 WHERE t.schemaname = 'ledger' AND r.rolname = current_user ORDER BY t.tablename;

-- ---------------------------------------------------------------- superuser and owner

SELECT label, pg_temp.try(q) AS result FROM (VALUES
  ('update all', $$UPDATE ledger.events SET amount = amount + 1$$),
  ('update one', $$UPDATE ledger.events SET amount = 1000 WHERE wallet_id = 'imm-a' AND seq = 1$$),
  ('update metadata only', $$UPDATE ledger.events SET metadata = '{"note": "fixed"}' WHERE seq = 3$$),
  ('update to the same value', $$UPDATE ledger.events SET amount = amount$$),
  ('delete all', $$DELETE FROM ledger.events$$),
  ('delete one', $$DELETE FROM ledger.events WHERE wallet_id = 'imm-a' AND seq = 3$$),
  ('delete in a CTE', $$WITH d AS (DELETE FROM ledger.events RETURNING 1) SELECT count(*) FROM d$$),
  ('truncate', $$TRUNCATE ledger.events$$),
  ('truncate only', $$TRUNCATE ONLY ledger.events$$),
  ('truncate with the other tables', $$TRUNCATE ledger.wallets, ledger.events, ledger.reservations$$),
  ('upsert onto an event', $$INSERT INTO ledger.events (wallet_id, seq, kind, amount, balance, reserved, at, hash)
                             VALUES ('imm-a', 1, 'credit', 1, 1, 0, now(), sha256('x'::bytea))
                             ON CONFLICT (wallet_id, seq) DO UPDATE SET amount = 1$$),
  ('merge update', $$MERGE INTO ledger.events e USING (SELECT 'imm-a' AS w) s ON e.wallet_id = s.w
                     WHEN MATCHED THEN UPDATE SET amount = 0$$),
  ('merge delete', $$MERGE INTO ledger.events e USING (SELECT 'imm-a' AS w) s ON e.wallet_id = s.w
                     WHEN MATCHED THEN DELETE$$)
) AS t(label, q);
-- The refusal in full, for each kind of statement.
SELECT label, e.* FROM (VALUES
  ('update', $$UPDATE ledger.events SET amount = 0$$),
  ('delete', $$DELETE FROM ledger.events$$),
  ('truncate', $$TRUNCATE ledger.events$$)
) AS t(label, q), pg_temp.error_of(q) e \gx

-- ---------------------------------------------------------------- under session_replication_role = replica

-- Ordinary triggers do not fire for a replica; these are ENABLE ALWAYS.
SELECT tgname, tgenabled FROM pg_trigger
 WHERE tgrelid = 'ledger.events'::regclass AND NOT tgisinternal ORDER BY tgname;
SET session_replication_role = replica;
SELECT label, pg_temp.try(q) AS result FROM (VALUES
  ('update', $$UPDATE ledger.events SET amount = amount + 1$$),
  ('delete', $$DELETE FROM ledger.events WHERE seq = 3$$),
  ('truncate', $$TRUNCATE ledger.events$$)
) AS t(label, q);
RESET session_replication_role;
SHOW session_replication_role;

-- Nothing changed, and appending through the ledger still works.
SELECT pg_temp.events_changed() AS events_changed;
SELECT seq, kind, amount, balance, reserved FROM ledger_credit('imm-a', 1, 'after');
SELECT * FROM ledger_verify();
DROP TABLE events_before;
CREATE TEMP TABLE events_before AS SELECT * FROM ledger.events;

-- ---------------------------------------------------------------- a role without grants

CREATE ROLE regress_baseledger_intruder NOLOGIN;
-- With the schema reachable, the tables' own privileges refuse.
GRANT USAGE ON SCHEMA ledger TO regress_baseledger_intruder;
SET ROLE regress_baseledger_intruder;
SELECT label, pg_temp.try(q) AS result FROM (VALUES
  ('insert wallets', $$INSERT INTO ledger.wallets (wallet_id, unit, created_at) VALUES ('imm-forged', 'credits', now())$$),
  ('update wallets', $$UPDATE ledger.wallets SET balance = 1000000$$),
  ('delete wallets', $$DELETE FROM ledger.wallets$$),
  ('truncate wallets', $$TRUNCATE ledger.wallets$$),
  ('insert events', $$INSERT INTO ledger.events (wallet_id, seq, kind, amount, balance, reserved, at, hash)
                      VALUES ('imm-a', 99, 'credit', 1000000, 1000000, 0, now(), sha256('x'::bytea))$$),
  ('update events', $$UPDATE ledger.events SET amount = 0$$),
  ('delete events', $$DELETE FROM ledger.events$$),
  ('truncate events', $$TRUNCATE ledger.events$$),
  ('insert reservations', $$INSERT INTO ledger.reservations (reservation_id, wallet_id, amount, state, expires_at, created_at, updated_at)
                            VALUES (gen_random_uuid(), 'imm-a', 1, 'active', now(), now(), now())$$),
  ('update reservations', $$UPDATE ledger.reservations SET state = 'cancelled'$$),
  ('delete reservations', $$DELETE FROM ledger.reservations$$),
  ('truncate reservations', $$TRUNCATE ledger.reservations$$),
  -- nor give itself a grant
  ('insert grants', $$INSERT INTO ledger.grants (wallet_id, role_id, privilege, granted_at)
                      VALUES ('imm-a', 'regress_baseledger_intruder'::regrole, 'spend', now())$$),
  ('update grants', $$UPDATE ledger.grants SET privilege = 'spend'$$),
  ('delete grants', $$DELETE FROM ledger.grants$$),
  ('truncate grants', $$TRUNCATE ledger.grants$$),
  -- nor move the ledger's clock or its limits
  ('set clock_offset', $$SET baseledger.clock_offset = '1h'$$),
  ('set max_ttl', $$SET baseledger.max_ttl = '365d'$$)
) AS t(label, q);
RESET ROLE;

-- A role granted every privilege on the event log is still refused by the
-- append-only rule.
GRANT ALL ON ledger.events TO regress_baseledger_intruder;
SET ROLE regress_baseledger_intruder;
SELECT label, pg_temp.try(q) AS result FROM (VALUES
  ('update events', $$UPDATE ledger.events SET amount = 0$$),
  ('delete events', $$DELETE FROM ledger.events$$),
  ('truncate events', $$TRUNCATE ledger.events$$)
) AS t(label, q);
RESET ROLE;
REVOKE ALL ON ledger.events FROM regress_baseledger_intruder;
REVOKE USAGE ON SCHEMA ledger FROM regress_baseledger_intruder;
DROP ROLE regress_baseledger_intruder;

SELECT pg_temp.events_changed() AS events_changed;
SELECT count(*) AS wallets FROM ledger.wallets;
SELECT count(*) AS reservations, min(state::text) AS state FROM ledger.reservations;
SELECT count(*) AS grants FROM ledger.grants;
SELECT * FROM ledger_verify();
