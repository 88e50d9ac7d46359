-- Security: who may call what, on which wallets; what a hostile caller can and
-- cannot do; and what tampering the hash chain and ledger_head reveal.
--   * the roles: every function under baseledger_admin, baseledger_client
--     (with a spend grant, a read grant, and none), baseledger_auditor, a role
--     with USAGE on the schema only, and a role with nothing;
--   * defence in depth: a role given EXECUTE on an admin function directly is
--     still refused by the function;
--   * tenants: a client granted acme/a tries acme/b, acme, other/x and a
--     missing wallet with every write and read: the same 42501 each time;
--   * grants cover the wallets under them, at '/' boundaries only; read vs
--     spend; grants to a group role; revoke takes effect at once;
--   * batches: elements on wallets outside the grants get 42501 rows;
--   * the search_path attack: shadowing functions, operators, aggregates,
--     types and tables planted by a client in its own schema and in pg_temp;
--   * injection through every text argument;
--   * tampering by a superuser with the triggers disabled, and checkpoints
--     taken with ledger_head that expose a rewrite ledger_verify cannot see;
--   * the bound on active holds (baseledger.max_active_reservations).
-- Roles are cluster-wide: they are created here and dropped at the end.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS baseledger CASCADE;
CREATE EXTENSION baseledger;
DROP SCHEMA IF EXISTS regress_bl_evil CASCADE;
DROP ROLE IF EXISTS regress_bl_sec_admin, regress_bl_sec_client, regress_bl_sec_reader,
  regress_bl_sec_stranger, regress_bl_sec_auditor, regress_bl_sec_outsider,
  regress_bl_sec_nobody, regress_bl_sec_team, regress_bl_sec_agent7, regress_bl_sec_under;
RESET client_min_messages;
SET search_path = ledger, public;

-- 'ok', or the SQLSTATE and message of the error. Written with qualified
-- operators so that it works the same under a hostile search_path.
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE OPERATOR(pg_catalog.||) ': ' OPERATOR(pg_catalog.||) SQLERRM;
END $$;
-- 'ok' or the SQLSTATE alone.
CREATE FUNCTION pg_temp.state(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE;
END $$;
-- For a batch: the SQLSTATE of each row ('ok' for 00000), or the SQLSTATE of
-- the error that refused the whole call. q selects string_agg(sqlstate, ',').
CREATE FUNCTION pg_temp.batch_state(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  v text;
BEGIN
  EXECUTE q INTO v;
  RETURN replace(v, '00000', 'ok');
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE;
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
-- The same as role r (from the session's own role), back to the session's role after.
CREATE FUNCTION pg_temp.try_as(r name, q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  result text;
BEGIN
  EXECUTE format('SET ROLE %I', r);
  result := pg_temp.try(q);
  RESET ROLE;
  RETURN result;
END $$;
CREATE FUNCTION pg_temp.error_as(r name, q text,
    OUT code text, OUT message text, OUT detail text, OUT hint text)
  LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('SET ROLE %I', r);
  SELECT * INTO code, message, detail, hint FROM pg_temp.error_of(q);
  RESET ROLE;
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
    FROM ledger.ledger_history(w, 0, 1000) ORDER BY seq
$$;

-- ---------------------------------------------------------------- roles and wallets

-- The extension's roles exist, cannot log in, and outlive DROP EXTENSION.
SELECT rolname, rolcanlogin, rolsuper, rolinherit FROM pg_roles
 WHERE rolname IN ('baseledger_admin', 'baseledger_client', 'baseledger_auditor')
 ORDER BY rolname COLLATE "C";

CREATE ROLE regress_bl_sec_admin NOLOGIN IN ROLE baseledger_admin;
-- spend on acme/a
CREATE ROLE regress_bl_sec_client NOLOGIN IN ROLE baseledger_client;
-- read on acme/a
CREATE ROLE regress_bl_sec_reader NOLOGIN IN ROLE baseledger_client;
-- a client without any grant
CREATE ROLE regress_bl_sec_stranger NOLOGIN IN ROLE baseledger_client;
CREATE ROLE regress_bl_sec_auditor NOLOGIN IN ROLE baseledger_auditor;
-- no baseledger role, but USAGE on schema ledger
CREATE ROLE regress_bl_sec_outsider NOLOGIN;
GRANT USAGE ON SCHEMA ledger TO regress_bl_sec_outsider;
-- nothing at all
CREATE ROLE regress_bl_sec_nobody NOLOGIN;

SET ROLE regress_bl_sec_admin;
SELECT wallet_id, unit, balance FROM ledger_create_wallet('acme');
SELECT wallet_id, unit, balance FROM ledger_create_wallet('acme/a');
SELECT wallet_id, unit, balance FROM ledger_create_wallet('acme/b');
SELECT wallet_id, unit, balance FROM ledger_create_wallet('other');
SELECT wallet_id, unit, balance FROM ledger_create_wallet('other/x');
SELECT kind, balance FROM ledger_credit('acme', 1000, 'fund');
SELECT kind, balance FROM ledger_credit('acme/a', 1000, 'fund');
SELECT kind, balance FROM ledger_credit('acme/b', 1000, 'fund');
SELECT kind, balance FROM ledger_credit('other', 1000, 'fund');
SELECT kind, balance FROM ledger_credit('other/x', 1000, 'fund');
-- true: a new grant; false: the same grant again.
SELECT ledger_grant('regress_bl_sec_client', 'acme/a', 'spend') AS granted;
SELECT ledger_grant('regress_bl_sec_client', 'acme/a', 'spend') AS granted_again;
SELECT ledger_grant('regress_bl_sec_reader', 'acme/a', 'read') AS granted;
RESET ROLE;
-- Grants are stored by role and wallet; the admin wrote them through the function.
SELECT wallet_id, role_id::regrole AS role, privilege FROM ledger.grants
 ORDER BY wallet_id, role_id::regrole::text COLLATE "C", privilege;

-- ---------------------------------------------------------------- every function under each role

-- Holds on acme/a for the roles that may settle, cancel and extend them, and a
-- spare one for the others (so that every call names a real hold and only the
-- role decides the outcome).
CREATE TEMP TABLE holds (role name, purpose text, id uuid);
INSERT INTO holds
  SELECT r, p, (ledger_reserve('acme/a', 1, '1 hour', 'hold-' || r || '-' || p)).reservation_id
    FROM unnest(ARRAY['regress_bl_sec_admin', 'regress_bl_sec_client']) r,
         unnest(ARRAY['settle', 'cancel', 'extend', 'batch']) p;
INSERT INTO holds
  SELECT NULL, p, (ledger_reserve('acme/a', 1, '1 hour', 'hold-spare')).reservation_id
    FROM unnest(ARRAY['settle', 'cancel', 'extend', 'batch']) p;
CREATE FUNCTION pg_temp.hold(r name, p text) RETURNS uuid LANGUAGE sql AS $$
  SELECT coalesce((SELECT id FROM pg_temp.holds WHERE role = r AND purpose = p),
                  (SELECT id FROM pg_temp.holds WHERE role IS NULL AND purpose = p))
$$;
-- Runs a call template as role r: %1$s is a tag for the role (for keys and
-- ids), %2$L..%5$L the holds it may settle, cancel, extend and settle in a batch.
CREATE FUNCTION pg_temp.as_role(r name, tpl text, batch boolean) RETURNS text
  LANGUAGE plpgsql AS $$
DECLARE
  q text := format(tpl, replace(r, 'regress_bl_sec_', ''), pg_temp.hold(r, 'settle'),
                   pg_temp.hold(r, 'cancel'), pg_temp.hold(r, 'extend'), pg_temp.hold(r, 'batch'));
  result text;
BEGIN
  EXECUTE format('SET ROLE %I', r);
  result := CASE WHEN batch THEN pg_temp.batch_state(q) ELSE pg_temp.state(q) END;
  RESET ROLE;
  RETURN result;
END $$;

CREATE TEMP TABLE calls (n serial, call text, q text, batch boolean DEFAULT false);
INSERT INTO calls (call, q, batch) VALUES
  ('create_wallet', $$SELECT ledger.ledger_create_wallet('acme/a/new-%1$s')$$, false),
  ('credit', $$SELECT ledger.ledger_credit('acme/a', 5, 'credit-%1$s')$$, false),
  ('debit', $$SELECT ledger.ledger_debit('acme/a', 1, 'debit-%1$s')$$, false),
  ('reserve', $$SELECT ledger.ledger_reserve('acme/a', 1, '1 hour', 'reserve-%1$s')$$, false),
  ('settle', $$SELECT ledger.ledger_settle('acme/a', %2$L, 1, 'settle-%1$s')$$, false),
  ('cancel', $$SELECT ledger.ledger_cancel('acme/a', %3$L, 'cancel-%1$s')$$, false),
  ('extend', $$SELECT ledger.ledger_extend('acme/a', %4$L, '2 hours', 'extend-%1$s')$$, false),
  ('reserve_batch', $$SELECT string_agg(sqlstate, ',' ORDER BY ordinal)
                        FROM ledger.ledger_reserve_batch(ARRAY['acme/a'], ARRAY[1],
                               ARRAY[interval '1 hour'], ARRAY['rbatch-%1$s'])$$, true),
  ('settle_batch', $$SELECT string_agg(sqlstate, ',' ORDER BY ordinal)
                       FROM ledger.ledger_settle_batch(ARRAY['acme/a'], ARRAY[%5$L::uuid],
                              ARRAY[1], ARRAY['sbatch-%1$s'])$$, true),
  ('balance', $$SELECT ledger.ledger_balance('acme/a')$$, false),
  ('reservation', $$SELECT ledger.ledger_reservation('acme/a', %2$L)$$, false),
  ('history', $$SELECT count(*) FROM ledger.ledger_history('acme/a')$$, false),
  ('head', $$SELECT * FROM ledger.ledger_head('acme/a')$$, false),
  ('verify one', $$SELECT count(*) FROM ledger.ledger_verify('acme/a')$$, false),
  ('verify all', $$SELECT count(*) FROM ledger.ledger_verify()$$, false),
  ('expire', $$SELECT ledger.ledger_expire()$$, false),
  ('set_overdraft', $$SELECT ledger.ledger_set_overdraft('acme/a', 0)$$, false),
  ('set_concurrency', $$SELECT ledger.ledger_set_concurrency('acme/a', 100)$$, false),
  ('set_limit', $$SELECT ledger.ledger_set_limit('acme/a', 'month', 100000, NULL)$$, false),
  ('set_alert', $$SELECT ledger.ledger_set_alert('acme/a', 'available_below', 1)$$, false),
  ('policy', $$SELECT ledger.ledger_policy('acme/a')$$, false),
  ('alerts', $$SELECT count(*) FROM ledger.ledger_alerts('acme/a')$$, false),
  ('grant', $$SELECT ledger.ledger_grant('regress_bl_sec_nobody', 'acme/z', 'read')$$, false),
  ('revoke', $$SELECT ledger.ledger_revoke('regress_bl_sec_nobody', 'acme/z', 'read')$$, false),
  ('schedule_expiry', $$SELECT ledger.ledger_schedule_expiry()$$, false),
  ('unschedule_expiry', $$SELECT ledger.ledger_unschedule_expiry()$$, false),
  ('events_immutable', $$SELECT ledger.ledger_events_immutable()$$, false);
-- Every function of the schema is in the list above.
SELECT p.proname FROM pg_proc p
 WHERE p.pronamespace = 'ledger'::regnamespace
   AND NOT EXISTS (SELECT 1 FROM calls c WHERE p.proname = 'ledger_' || split_part(c.call, ' ', 1));

-- ok, or the SQLSTATE of the refusal. The roles act in column order, row by
-- row; each uses keys and holds of its own.
--   admin: everything, on every wallet. Scheduling is pg_cron's business: it
--     needs USAGE on schema cron, which only a superuser gives (42501 from
--     pg_cron); calling the trigger function directly is 39P01.
--   client (spend on acme/a): the moves and the reads; no create, credit,
--     grant, sweep or verify.
--   reader (read on acme/a): the reads only.
--   stranger (a client without grants): 42501 on everything.
--   auditor: reads and verification everywhere; no move.
--   outsider (USAGE on schema ledger only) and nobody: 42501 on everything.
SELECT call,
       pg_temp.as_role('regress_bl_sec_admin', q, batch) AS admin,
       pg_temp.as_role('regress_bl_sec_client', q, batch) AS client,
       pg_temp.as_role('regress_bl_sec_reader', q, batch) AS reader,
       pg_temp.as_role('regress_bl_sec_stranger', q, batch) AS stranger,
       pg_temp.as_role('regress_bl_sec_auditor', q, batch) AS auditor,
       pg_temp.as_role('regress_bl_sec_outsider', q, batch) AS outsider,
       pg_temp.as_role('regress_bl_sec_nobody', q, batch) AS nobody
  FROM calls ORDER BY n;
SELECT current_user = session_user AS back_to_the_session_user;

-- Only the admin's and the client's calls left a trace, each exactly once.
SELECT seq, kind, amount, idempotency_key, balance, reserved FROM pg_temp.hist('acme/a')
 WHERE seq > 10;
SELECT * FROM pg_temp.bal('acme/a');
SELECT wallet_id FROM ledger.wallets ORDER BY wallet_id;
SELECT count(*) AS grants_of_nobody FROM ledger.grants
 WHERE role_id = 'regress_bl_sec_nobody'::regrole;
SELECT * FROM ledger_verify();

-- A call that fails inside the ledger -- after it switched to the owner's
-- rights and pinned its search_path -- leaves the caller as it was: the same
-- role, the same search_path, no access to the tables.
SET ROLE regress_bl_sec_client;
SELECT pg_temp.try($$SELECT ledger.ledger_debit('acme/a', 1000000, 'too-much')$$) AS failed;
SELECT pg_temp.try($$SELECT ledger.ledger_debit('acme/b', 1, 'not-mine')$$) AS refused;
SELECT current_user, current_setting('search_path') AS search_path,
       pg_temp.try($$SELECT count(*) FROM ledger.events$$) AS read_events;
BEGIN;
SAVEPOINT s;
SELECT kind FROM ledger_debit('acme/a', 1000000, 'too-much');
ROLLBACK TO SAVEPOINT s;
SELECT current_user, current_setting('search_path') AS search_path,
       pg_temp.try($$SELECT count(*) FROM ledger.events$$) AS read_events;
COMMIT;
RESET ROLE;

-- The refusals in full, one of each kind.
SELECT who, e.* FROM (VALUES
  ('client creates a wallet', 'regress_bl_sec_client', $$SELECT ledger.ledger_create_wallet('acme/a/c')$$),
  ('client credits its own wallet', 'regress_bl_sec_client', $$SELECT ledger.ledger_credit('acme/a', 1, 'c')$$),
  ('client verifies', 'regress_bl_sec_client', $$SELECT ledger.ledger_verify('acme/a')$$),
  ('reader debits', 'regress_bl_sec_reader', $$SELECT ledger.ledger_debit('acme/a', 1, 'r')$$),
  ('stranger reads', 'regress_bl_sec_stranger', $$SELECT ledger.ledger_balance('acme/a')$$),
  ('auditor debits', 'regress_bl_sec_auditor', $$SELECT ledger.ledger_debit('acme/a', 1, 'a')$$),
  ('outsider reads', 'regress_bl_sec_outsider', $$SELECT ledger.ledger_balance('acme/a')$$),
  ('nobody reads', 'regress_bl_sec_nobody', $$SELECT ledger.ledger_balance('acme/a')$$)
) AS t(who, r, q), pg_temp.error_as(r, q) AS e \gx

-- ---------------------------------------------------------------- defence in depth

-- EXECUTE decides which functions a role may call; the functions still check
-- the role. A client given EXECUTE on the admin's functions by mistake is
-- refused by each of them, and cannot grant itself anything.
GRANT EXECUTE ON FUNCTION ledger_create_wallet(text, text, jsonb, boolean),
  ledger_credit(text, bigint, text, jsonb), ledger_grant(regrole, text, text),
  ledger_revoke(regrole, text, text), ledger_expire(integer), ledger_verify(text)
  TO regress_bl_sec_stranger;
SET ROLE regress_bl_sec_stranger;
SELECT label, e.* FROM (VALUES
  ('create_wallet', $$SELECT ledger.ledger_create_wallet('acme/s')$$),
  ('credit', $$SELECT ledger.ledger_credit('acme/b', 1000000, 'free money')$$),
  ('grant itself spend', $$SELECT ledger.ledger_grant('regress_bl_sec_stranger', 'acme', 'spend')$$),
  ('revoke a grant', $$SELECT ledger.ledger_revoke('regress_bl_sec_client', 'acme/a', 'spend')$$),
  ('expire', $$SELECT ledger.ledger_expire()$$),
  ('verify one', $$SELECT ledger.ledger_verify('acme/b')$$),
  ('verify all', $$SELECT ledger.ledger_verify()$$)
) AS t(label, q), pg_temp.error_of(q) e;
RESET ROLE;
REVOKE EXECUTE ON FUNCTION ledger_create_wallet(text, text, jsonb, boolean),
  ledger_credit(text, bigint, text, jsonb), ledger_grant(regrole, text, text),
  ledger_revoke(regrole, text, text), ledger_expire(integer), ledger_verify(text)
  FROM regress_bl_sec_stranger;
SELECT wallet_id, role_id::regrole AS role, privilege FROM ledger.grants
 ORDER BY wallet_id, role_id::regrole::text COLLATE "C", privilege;
SELECT * FROM pg_temp.bal('acme/b');

-- No baseledger role may touch the tables directly, not even the admin's.
SELECT r AS role, label, pg_temp.try_as(r, q) AS result FROM (VALUES
  ('read events', $$SELECT count(*) FROM ledger.events$$),
  ('read grants', $$SELECT count(*) FROM ledger.grants$$),
  ('insert a grant', $$INSERT INTO ledger.grants VALUES ('acme', 'regress_bl_sec_stranger'::regrole, 'spend', now())$$),
  ('update a wallet', $$UPDATE ledger.wallets SET balance = 0$$),
  ('read a view', $$SELECT count(*) FROM ledger.wallet_tree$$)
) AS t(label, q),
  unnest(ARRAY['regress_bl_sec_admin', 'regress_bl_sec_client', 'regress_bl_sec_auditor']) r
ORDER BY r, label;

-- ---------------------------------------------------------------- tenants

-- A hold on acme/b, and an event keyed 'k-b' on it, that the client will aim at.
SELECT reservation_id AS b_hold FROM ledger_reserve('acme/b', 10, '1 hour', 'b-hold') \gset
SELECT kind FROM ledger_debit('acme/b', 7, 'k-b');
SELECT reservation_id AS a_hold FROM ledger_reserve('acme/a', 10, '1 hour', 'a-hold') \gset
CREATE TEMP TABLE before_b AS SELECT * FROM ledger.events WHERE wallet_id <> 'acme/a';

-- The client (spend on acme/a) tries every write and read on acme/b (exists),
-- acme (its parent, exists), other/x (another tenant) and acme/ghost (does not
-- exist). The answer is the same 42501, naming the wallet asked for, with
-- nothing else: whether the wallet exists is not revealed.
CREATE TEMP TABLE probes (n serial, call text, q text);
INSERT INTO probes (call, q) VALUES
  ('debit', $$SELECT ledger.ledger_debit(%1$L, 7, 'k-b')$$),
  ('reserve', $$SELECT ledger.ledger_reserve(%1$L, 1, '1 hour', 'x')$$),
  ('settle', $$SELECT ledger.ledger_settle(%1$L, %2$L, 1, 'x')$$),
  ('cancel', $$SELECT ledger.ledger_cancel(%1$L, %2$L, 'x')$$),
  ('extend', $$SELECT ledger.ledger_extend(%1$L, %2$L, '2 hours', 'x')$$),
  ('balance', $$SELECT ledger.ledger_balance(%1$L)$$),
  ('reservation', $$SELECT ledger.ledger_reservation(%1$L, %2$L)$$),
  ('history', $$SELECT ledger.ledger_history(%1$L)$$),
  ('head', $$SELECT ledger.ledger_head(%1$L)$$);
GRANT SELECT ON probes TO PUBLIC;
SET ROLE regress_bl_sec_client;
SELECT p.call, w.target,
       e.code, replace(e.message, w.target, '<wallet>') AS message, e.detail, e.hint
  FROM probes p,
       unnest(ARRAY['acme/b', 'acme', 'other/x', 'acme/ghost']) AS w(target),
       pg_temp.error_of(format(p.q, w.target, :'b_hold')) e
 ORDER BY p.n, w.target COLLATE "C";
-- The same, for the batch calls: one 42501 row per refused element.
SELECT ordinal, sqlstate, message, wallet_id, seq
  FROM ledger_reserve_batch(ARRAY['acme/b', 'acme', 'other/x', 'acme/ghost'],
                            ARRAY[1, 1, 1, 1], ARRAY[interval '1 hour', '1 hour', '1 hour', '1 hour'],
                            ARRAY['x', 'x', 'x', 'x']);
SELECT ordinal, sqlstate, message, wallet_id, seq
  FROM ledger_settle_batch(ARRAY['acme/b', 'acme', 'other/x', 'acme/ghost'],
                           ARRAY[:'b_hold', :'b_hold', :'b_hold', :'b_hold']::uuid[],
                           ARRAY[1, 1, 1, 1], ARRAY['x', 'x', 'x', 'x']);
-- acme/b's hold named on the client's own wallet: not found there.
SELECT pg_temp.try(format($$SELECT ledger.ledger_settle('acme/a', %L, 1, 'steal')$$, :'b_hold')) AS settle_b_hold_on_a;
SELECT pg_temp.try(format($$SELECT ledger.ledger_cancel('acme/a', %L, 'steal')$$, :'b_hold')) AS cancel_b_hold_on_a;
SELECT pg_temp.try(format($$SELECT ledger.ledger_reservation('acme/a', %L)$$, :'b_hold')) AS read_b_hold_on_a;
-- Wallets under acme/a are the client's to probe: a missing one is LB002.
SELECT pg_temp.try($$SELECT ledger.ledger_balance('acme/a/ghost')$$) AS under_own_grant;
-- '..' is an ordinary segment, not a way out: acme/a/../b is a wallet under
-- acme/a (it does not exist), not acme/b.
SELECT pg_temp.try($$SELECT ledger.ledger_balance('acme/a/../b')$$) AS dot_dot;
SELECT pg_temp.try($$SELECT ledger.ledger_debit('acme/a/../b', 1, 'dd')$$) AS dot_dot_debit;
RESET ROLE;
-- Nothing was written outside acme/a, and acme/b's hold is still active.
SELECT count(*) AS changed_events FROM (
  (SELECT * FROM ledger.events WHERE wallet_id <> 'acme/a' EXCEPT ALL SELECT * FROM before_b)
  UNION ALL
  (SELECT * FROM before_b EXCEPT ALL SELECT * FROM ledger.events WHERE wallet_id <> 'acme/a')) d;
SELECT state, amount, captured FROM ledger_reservation('acme/b', :'b_hold');
SELECT count(*) AS wallets FROM ledger.wallets;

-- ---------------------------------------------------------------- grants cover a subtree

SELECT count(*) FROM unnest(ARRAY['acme/research', 'acme/research/agent-7',
                                  'acme/research/agent-7/tool', 'acme/researchers',
                                  'acme/research-x', 'acme/_', 'acme/q']) w,
       ledger_create_wallet(w);
SELECT count(*) FROM unnest(ARRAY['acme/research', 'acme/research/agent-7',
                                  'acme/research/agent-7/tool', 'acme/researchers',
                                  'acme/research-x', 'acme/_', 'acme/q']) w,
       ledger_credit(w, 100, 'fund');
-- A grant to a group role works for its members.
CREATE ROLE regress_bl_sec_team NOLOGIN;
CREATE ROLE regress_bl_sec_agent7 NOLOGIN IN ROLE baseledger_client, regress_bl_sec_team;
-- A grant deep in the tree covers nothing above it; '_' is no wildcard.
CREATE ROLE regress_bl_sec_under NOLOGIN IN ROLE baseledger_client;
SET ROLE regress_bl_sec_admin;
SELECT ledger_grant('regress_bl_sec_team', 'acme/research', 'spend');
SELECT ledger_grant('regress_bl_sec_under', 'acme/research/agent-7', 'spend');
SELECT ledger_grant('regress_bl_sec_under', 'acme/_', 'spend');
RESET ROLE;
SELECT r AS role, w AS wallet,
       pg_temp.try_as(r, format($$SELECT ledger.ledger_debit(%L, 1, %L)$$, w, 'sub-' || r)) AS debit
  FROM unnest(ARRAY['regress_bl_sec_agent7', 'regress_bl_sec_under']) r,
       unnest(ARRAY['acme/research', 'acme/research/agent-7', 'acme/research/agent-7/tool',
                    'acme/research/agent-7/missing', 'acme/researchers', 'acme/research-x',
                    'acme', 'acme/_', 'acme/_/missing', 'acme/q']) w
 ORDER BY r, w COLLATE "C";
-- The team's role itself (not a client) may not call the functions at all.
SET ROLE regress_bl_sec_team;
SELECT pg_temp.try($$SELECT ledger.ledger_balance('acme/research')$$) AS team_itself;
RESET ROLE;

-- ---------------------------------------------------------------- read vs spend, revoke

SET ROLE regress_bl_sec_admin;
SELECT ledger_grant('regress_bl_sec_reader', 'acme/q', 'read') AS read_q;
SELECT ledger_grant('regress_bl_sec_reader', 'acme/q', 'spend') AS spend_q;
RESET ROLE;
SELECT reservation_id AS q_hold FROM ledger_reserve('acme/q', 5, '1 hour', 'q-hold') \gset
CREATE TEMP TABLE rw (n serial, call text, q text);
INSERT INTO rw (call, q) VALUES
  ('balance', $$SELECT ledger.ledger_balance('acme/q')$$),
  ('reservation', format($$SELECT ledger.ledger_reservation('acme/q', %L)$$, :'q_hold')),
  ('history', $$SELECT ledger.ledger_history('acme/q')$$),
  ('head', $$SELECT ledger.ledger_head('acme/q')$$),
  ('debit', $$SELECT ledger.ledger_debit('acme/q', 1, 'rw-debit-' || pg_catalog.txid_current())$$),
  ('reserve', $$SELECT ledger.ledger_reserve('acme/q', 1, '1 hour', 'rw-reserve-' || pg_catalog.txid_current())$$),
  ('extend', format($$SELECT ledger.ledger_extend('acme/q', %L, '2 hours', 'rw-extend-' || pg_catalog.txid_current())$$, :'q_hold')),
  ('reserve_batch', $$SELECT string_agg(sqlstate, ',')
                        FROM ledger.ledger_reserve_batch(ARRAY['acme/q'], ARRAY[1], ARRAY[interval '1 hour'],
                                                         ARRAY['rw-rb-' || pg_catalog.txid_current()])$$);
GRANT SELECT ON rw TO PUBLIC;
CREATE FUNCTION pg_temp.reader_can() RETURNS TABLE (call text, result text) LANGUAGE plpgsql AS $$
BEGIN
  SET ROLE regress_bl_sec_reader;
  RETURN QUERY SELECT rw.call, CASE WHEN rw.call = 'reserve_batch' THEN pg_temp.batch_state(rw.q)
                                    ELSE pg_temp.state(rw.q) END
                 FROM pg_temp.rw ORDER BY rw.n;
  RESET ROLE;
END $$;
-- With read and spend: everything.
SELECT * FROM pg_temp.reader_can();
-- Revoking spend leaves read; true when a grant was removed, false when there was none.
SET ROLE regress_bl_sec_admin;
SELECT ledger_revoke('regress_bl_sec_reader', 'acme/q', 'spend') AS revoked;
SELECT ledger_revoke('regress_bl_sec_reader', 'acme/q', 'spend') AS revoked_again;
RESET ROLE;
SELECT * FROM pg_temp.reader_can();
-- Revoking read too leaves nothing, from the very next call.
SET ROLE regress_bl_sec_admin;
SELECT ledger_revoke('regress_bl_sec_reader', 'acme/q', 'read') AS revoked;
RESET ROLE;
SELECT * FROM pg_temp.reader_can();
-- Inside one transaction, too: a grant and its revoke act at once.
BEGIN;
SET LOCAL ROLE regress_bl_sec_admin;
SELECT ledger_grant('regress_bl_sec_stranger', 'other/x', 'read');
SET LOCAL ROLE regress_bl_sec_stranger;
SELECT pg_temp.try($$SELECT ledger.ledger_balance('other/x')$$) AS after_grant;
SET LOCAL ROLE regress_bl_sec_admin;
SELECT ledger_revoke('regress_bl_sec_stranger', 'other/x', 'read');
SET LOCAL ROLE regress_bl_sec_stranger;
SELECT pg_temp.try($$SELECT ledger.ledger_balance('other/x')$$) AS after_revoke;
COMMIT;
-- Grant arguments are checked.
SET ROLE regress_bl_sec_admin;
SELECT label, pg_temp.try(q) AS result FROM (VALUES
  ('privilege write', $$SELECT ledger.ledger_grant('regress_bl_sec_reader', 'acme/q', 'write')$$),
  ('privilege SPEND', $$SELECT ledger.ledger_grant('regress_bl_sec_reader', 'acme/q', 'SPEND')$$),
  ('privilege empty', $$SELECT ledger.ledger_revoke('regress_bl_sec_reader', 'acme/q', '')$$),
  ('wallet invalid', $$SELECT ledger.ledger_grant('regress_bl_sec_reader', 'acme//q', 'read')$$),
  ('role unknown', $$SELECT ledger.ledger_grant('regress_bl_sec_no_such_role', 'acme/q', 'read')$$)
) AS t(label, q);
RESET ROLE;

-- ---------------------------------------------------------------- batches across grants

-- Elements on wallets outside the grants are refused with 42501 rows; the
-- others are decided as usual.
SET ROLE regress_bl_sec_client;
CREATE TEMP TABLE mixed AS
  SELECT * FROM ledger_reserve_batch(
    ARRAY['acme/a', 'acme/b', 'acme/a/ghost', 'acme/ghost', 'acme/a', 'other/x'],
    ARRAY[2, 2, 2, 2, 2000, 2],
    ARRAY[interval '1 hour', '1 hour', '1 hour', '1 hour', '1 hour', '1 hour'],
    ARRAY['mix-1', 'mix-2', 'mix-3', 'mix-4', 'mix-5', 'mix-6']);
SELECT ordinal, sqlstate, message, wallet_id, kind, amount FROM mixed ORDER BY ordinal;
SELECT ordinal, sqlstate, message, wallet_id, kind, amount
  FROM ledger_settle_batch(
    ARRAY['acme/a', 'acme/b', 'acme/a'],
    ARRAY[(SELECT reservation_id FROM mixed WHERE ordinal = 1), :'b_hold'::uuid, :'b_hold'::uuid],
    ARRAY[1, 1, 1], ARRAY['mix-s1', 'mix-s2', 'mix-s3'])
 ORDER BY ordinal;
RESET ROLE;
DROP TABLE mixed;
SELECT state, amount, captured FROM ledger_reservation('acme/b', :'b_hold');
SELECT * FROM pg_temp.bal('acme/b');

-- ---------------------------------------------------------------- the search_path attack

-- The client owns a schema and fills it with objects named like the ones the
-- ledger's queries use: operators (text = text always true, ...), functions
-- and aggregates, types named text, uuid, timestamptz..., and tables named
-- wallets, events, reservations and grants, holding a grant of everything to
-- the client. Each planted function records its call in a log.
CREATE SCHEMA regress_bl_evil AUTHORIZATION regress_bl_sec_client;
SET ROLE regress_bl_sec_client;
SET search_path = pg_catalog;
CREATE TABLE regress_bl_evil.log (who pg_catalog.text DEFAULT current_user,
                                  what pg_catalog.text);
GRANT USAGE ON SCHEMA regress_bl_evil TO PUBLIC;
GRANT INSERT, SELECT ON regress_bl_evil.log TO PUBLIC;
CREATE FUNCTION regress_bl_evil.note(what pg_catalog.text) RETURNS void
  LANGUAGE sql AS $$ INSERT INTO regress_bl_evil.log (what) VALUES (what) $$;
-- operators
CREATE FUNCTION regress_bl_evil.eq_text(pg_catalog.text, pg_catalog.text) RETURNS boolean
  LANGUAGE plpgsql AS $$ BEGIN PERFORM regress_bl_evil.note('text = text'); RETURN true; END $$;
CREATE OPERATOR regress_bl_evil.= (LEFTARG = pg_catalog.text, RIGHTARG = pg_catalog.text,
                                   FUNCTION = regress_bl_evil.eq_text);
CREATE FUNCTION regress_bl_evil.eq_uuid(pg_catalog.uuid, pg_catalog.uuid) RETURNS boolean
  LANGUAGE plpgsql AS $$ BEGIN PERFORM regress_bl_evil.note('uuid = uuid'); RETURN true; END $$;
CREATE OPERATOR regress_bl_evil.= (LEFTARG = pg_catalog.uuid, RIGHTARG = pg_catalog.uuid,
                                   FUNCTION = regress_bl_evil.eq_uuid);
CREATE FUNCTION regress_bl_evil.eq_int8(pg_catalog.int8, pg_catalog.int8) RETURNS boolean
  LANGUAGE plpgsql AS $$ BEGIN PERFORM regress_bl_evil.note('int8 = int8'); RETURN true; END $$;
CREATE OPERATOR regress_bl_evil.= (LEFTARG = pg_catalog.int8, RIGHTARG = pg_catalog.int8,
                                   FUNCTION = regress_bl_evil.eq_int8);
CREATE FUNCTION regress_bl_evil.gt_int8(pg_catalog.int8, pg_catalog.int8) RETURNS boolean
  LANGUAGE plpgsql AS $$ BEGIN PERFORM regress_bl_evil.note('int8 > int8'); RETURN true; END $$;
CREATE OPERATOR regress_bl_evil.> (LEFTARG = pg_catalog.int8, RIGHTARG = pg_catalog.int8,
                                   FUNCTION = regress_bl_evil.gt_int8);
CREATE FUNCTION regress_bl_evil.eq_oid(pg_catalog.oid, pg_catalog.oid) RETURNS boolean
  LANGUAGE plpgsql AS $$ BEGIN PERFORM regress_bl_evil.note('oid = oid'); RETURN true; END $$;
CREATE OPERATOR regress_bl_evil.= (LEFTARG = pg_catalog.oid, RIGHTARG = pg_catalog.oid,
                                   FUNCTION = regress_bl_evil.eq_oid);
CREATE FUNCTION regress_bl_evil.le_tstz(pg_catalog.timestamptz, pg_catalog.timestamptz)
  RETURNS boolean
  LANGUAGE plpgsql AS $$ BEGIN PERFORM regress_bl_evil.note('timestamptz <= timestamptz'); RETURN true; END $$;
CREATE OPERATOR regress_bl_evil.<= (LEFTARG = pg_catalog.timestamptz,
                                    RIGHTARG = pg_catalog.timestamptz,
                                    FUNCTION = regress_bl_evil.le_tstz);
CREATE FUNCTION regress_bl_evil.plus_tstz(pg_catalog.timestamptz, pg_catalog.interval)
  RETURNS pg_catalog.timestamptz
  LANGUAGE plpgsql AS $$ BEGIN PERFORM regress_bl_evil.note('timestamptz + interval'); RETURN $1; END $$;
CREATE OPERATOR regress_bl_evil.+ (LEFTARG = pg_catalog.timestamptz, RIGHTARG = pg_catalog.interval,
                                   FUNCTION = regress_bl_evil.plus_tstz);
-- functions and aggregates
CREATE FUNCTION regress_bl_evil.count_step(pg_catalog.int8) RETURNS pg_catalog.int8
  LANGUAGE plpgsql AS $$ BEGIN PERFORM regress_bl_evil.note('count(*)'); RETURN 1000000; END $$;
CREATE AGGREGATE regress_bl_evil.count(*) (SFUNC = regress_bl_evil.count_step,
                                           STYPE = pg_catalog.int8, INITCOND = '0');
CREATE FUNCTION regress_bl_evil.sum_step(pg_catalog.int8, pg_catalog.int8) RETURNS pg_catalog.int8
  LANGUAGE plpgsql AS $$ BEGIN PERFORM regress_bl_evil.note('sum(int8)'); RETURN 0; END $$;
CREATE AGGREGATE regress_bl_evil.sum(pg_catalog.int8) (SFUNC = regress_bl_evil.sum_step,
                                                       STYPE = pg_catalog.int8, INITCOND = '0');
CREATE FUNCTION regress_bl_evil.unnest(anyarray) RETURNS SETOF anyelement
  LANGUAGE plpgsql AS $$ BEGIN PERFORM regress_bl_evil.note('unnest'); END $$;
CREATE FUNCTION regress_bl_evil.now() RETURNS pg_catalog.timestamptz
  LANGUAGE plpgsql AS $$ BEGIN PERFORM regress_bl_evil.note('now()'); RETURN '2000-01-01'; END $$;
CREATE FUNCTION regress_bl_evil.clock_timestamp() RETURNS pg_catalog.timestamptz
  LANGUAGE plpgsql AS $$ BEGIN PERFORM regress_bl_evil.note('clock_timestamp()'); RETURN '2000-01-01'; END $$;
CREATE FUNCTION regress_bl_evil.gen_random_uuid() RETURNS pg_catalog.uuid
  LANGUAGE plpgsql AS $$ BEGIN PERFORM regress_bl_evil.note('gen_random_uuid()');
                              RETURN '00000000-0000-0000-0000-000000000000'; END $$;
CREATE FUNCTION regress_bl_evil.sha256(pg_catalog.bytea) RETURNS pg_catalog.bytea
  LANGUAGE plpgsql AS $$ BEGIN PERFORM regress_bl_evil.note('sha256(bytea)'); RETURN '\x00'; END $$;
CREATE FUNCTION regress_bl_evil.length(pg_catalog.bytea) RETURNS integer
  LANGUAGE plpgsql AS $$ BEGIN PERFORM regress_bl_evil.note('length(bytea)'); RETURN 32; END $$;
CREATE FUNCTION regress_bl_evil.pg_advisory_xact_lock(pg_catalog.int8) RETURNS void
  LANGUAGE plpgsql AS $$ BEGIN PERFORM regress_bl_evil.note('pg_advisory_xact_lock'); END $$;
CREATE FUNCTION regress_bl_evil.current_setting(pg_catalog.text, boolean) RETURNS pg_catalog.text
  LANGUAGE plpgsql AS $$ BEGIN PERFORM regress_bl_evil.note('current_setting'); RETURN '0'; END $$;
-- tables with the ledger's names and columns: a rich wallet, and grants of
-- everything to the client
CREATE TABLE regress_bl_evil.wallets (
  wallet_id pg_catalog.text, unit pg_catalog.text, balance pg_catalog.int8,
  reserved pg_catalog.int8, active_reservations integer, last_seq pg_catalog.int8,
  last_at pg_catalog.timestamptz, created_at pg_catalog.timestamptz, metadata pg_catalog.jsonb,
  last_hash pg_catalog.bytea);
INSERT INTO regress_bl_evil.wallets
  VALUES ('acme/a/sp', 'credits', 999999999, 0, 0, 0, NULL, '2000-01-01', NULL, NULL),
         ('acme/b', 'credits', 999999999, 0, 0, 0, NULL, '2000-01-01', NULL, NULL);
CREATE TABLE regress_bl_evil.events (
  wallet_id pg_catalog.text, seq pg_catalog.int8, kind pg_catalog.text, amount pg_catalog.int8,
  reservation_id pg_catalog.uuid, idempotency_key pg_catalog.text, fingerprint pg_catalog.bytea,
  balance pg_catalog.int8, reserved pg_catalog.int8, expires_at pg_catalog.timestamptz,
  at pg_catalog.timestamptz, metadata pg_catalog.jsonb, hash pg_catalog.bytea);
CREATE TABLE regress_bl_evil.reservations (
  reservation_id pg_catalog.uuid, wallet_id pg_catalog.text, amount pg_catalog.int8,
  captured pg_catalog.int8, state pg_catalog.text, expires_at pg_catalog.timestamptz,
  created_at pg_catalog.timestamptz, updated_at pg_catalog.timestamptz);
CREATE TABLE regress_bl_evil.grants (
  wallet_id pg_catalog.text, role_id pg_catalog.oid, privilege pg_catalog.text,
  granted_at pg_catalog.timestamptz);
INSERT INTO regress_bl_evil.grants
  VALUES ('acme', 'regress_bl_sec_client'::pg_catalog.regrole, 'spend', '2000-01-01'),
         ('other', 'regress_bl_sec_client'::pg_catalog.regrole, 'spend', '2000-01-01');
CREATE FUNCTION regress_bl_evil.spy() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM regress_bl_evil.note(TG_OP OPERATOR(pg_catalog.||) ' ' OPERATOR(pg_catalog.||)
                               TG_TABLE_SCHEMA OPERATOR(pg_catalog.||) '.'
                               OPERATOR(pg_catalog.||) TG_TABLE_NAME);
  RETURN NULL;
END $$;
CREATE TRIGGER spy BEFORE INSERT OR UPDATE OR DELETE ON regress_bl_evil.wallets
  FOR EACH ROW EXECUTE FUNCTION regress_bl_evil.spy();
CREATE TRIGGER spy BEFORE INSERT OR UPDATE OR DELETE ON regress_bl_evil.events
  FOR EACH ROW EXECUTE FUNCTION regress_bl_evil.spy();
CREATE TRIGGER spy BEFORE INSERT OR UPDATE OR DELETE ON regress_bl_evil.reservations
  FOR EACH ROW EXECUTE FUNCTION regress_bl_evil.spy();
CREATE TRIGGER spy BEFORE INSERT OR UPDATE OR DELETE ON regress_bl_evil.grants
  FOR EACH ROW EXECUTE FUNCTION regress_bl_evil.spy();
GRANT ALL ON ALL TABLES IN SCHEMA regress_bl_evil TO PUBLIC;
-- The same tables in pg_temp, which the ledger's own search_path names last.
CREATE TEMP TABLE wallets (LIKE regress_bl_evil.wallets);
CREATE TEMP TABLE events (LIKE regress_bl_evil.events);
CREATE TEMP TABLE reservations (LIKE regress_bl_evil.reservations);
CREATE TEMP TABLE grants (LIKE regress_bl_evil.grants);
INSERT INTO pg_temp.wallets SELECT * FROM regress_bl_evil.wallets;
INSERT INTO pg_temp.grants SELECT * FROM regress_bl_evil.grants;
CREATE TRIGGER spy BEFORE INSERT OR UPDATE OR DELETE ON pg_temp.wallets
  FOR EACH ROW EXECUTE FUNCTION regress_bl_evil.spy();
CREATE TRIGGER spy BEFORE INSERT OR UPDATE OR DELETE ON pg_temp.events
  FOR EACH ROW EXECUTE FUNCTION regress_bl_evil.spy();
CREATE TRIGGER spy BEFORE INSERT OR UPDATE OR DELETE ON pg_temp.reservations
  FOR EACH ROW EXECUTE FUNCTION regress_bl_evil.spy();
CREATE TRIGGER spy BEFORE INSERT OR UPDATE OR DELETE ON pg_temp.grants
  FOR EACH ROW EXECUTE FUNCTION regress_bl_evil.spy();
GRANT ALL ON pg_temp.wallets, pg_temp.events, pg_temp.reservations, pg_temp.grants TO PUBLIC;
-- types last (the definitions above name pg_catalog's)
CREATE TYPE regress_bl_evil.text AS (evil integer);
CREATE TYPE regress_bl_evil.uuid AS (evil integer);
CREATE TYPE regress_bl_evil.timestamptz AS (evil integer);
CREATE TYPE regress_bl_evil.jsonb AS (evil integer);
CREATE TYPE regress_bl_evil.bytea AS (evil integer);
CREATE TYPE regress_bl_evil.int8 AS (evil integer);
CREATE TYPE regress_bl_evil.event_kind AS (evil integer);
CREATE TYPE regress_bl_evil.reservation_state AS (evil integer);
-- The planted schema first.
SET search_path = regress_bl_evil, pg_catalog;
RESET ROLE;

-- The plants work: in the client's own queries they stand in for pg_catalog's.
SET ROLE regress_bl_sec_client;
SELECT 'a'::pg_catalog.text = 'b'::pg_catalog.text AS a_equals_b,
       (SELECT count(*) FROM (VALUES (1), (2)) v) AS count_of_two,
       now() AS now,
       (SELECT count(*) FROM grants) AS grants_seen,
       (SELECT n.nspname FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n
            ON n.oid OPERATOR(pg_catalog.=) t.typnamespace
         WHERE t.oid OPERATOR(pg_catalog.=) 'text'::regtype) AS text_is_from;
SELECT who, what FROM regress_bl_evil.log ORDER BY what COLLATE "C";
DELETE FROM regress_bl_evil.log;
RESET ROLE;

-- The admin, under the same search_path, sets up a wallet and grants.
SET ROLE regress_bl_sec_admin;
SHOW search_path;
SELECT wallet_id, unit, balance, reserved, available, active_reservations, last_seq
  FROM ledger.ledger_create_wallet('acme/a/sp', 'credits', '{"by": "admin"}');
SELECT seq, kind, amount, balance, reserved, available, replayed
  FROM ledger.ledger_credit('acme/a/sp', 100, 'sp-fund');
SELECT ledger.ledger_grant('regress_bl_sec_auditor', 'acme/a/sp', 'read') AS grant_true;
SELECT ledger.ledger_revoke('regress_bl_sec_auditor', 'acme/a/sp', 'read') AS revoke_true;
SELECT ledger.ledger_revoke('regress_bl_sec_auditor', 'acme/a/sp', 'read') AS revoke_false;
RESET ROLE;

-- The client calls every function it may, under its planted search_path.
SET ROLE regress_bl_sec_client;
SELECT seq, kind, amount, balance, reserved, available, replayed
  FROM ledger.ledger_debit('acme/a/sp', 10, 'sp-debit', '{"note": "x"}');
SELECT seq, kind, amount, balance, reserved, available, replayed
  FROM ledger.ledger_debit('acme/a/sp', 10, 'sp-debit', '{"note": "x"}');
SELECT pg_temp.try($$SELECT ledger.ledger_debit('acme/a/sp', 11, 'sp-debit')$$) AS key_conflict;
SELECT pg_temp.try($$SELECT ledger.ledger_debit('acme/a/sp', 1000, 'sp-too-much')$$) AS too_much;
SELECT reservation_id AS sp1 FROM ledger.ledger_reserve('acme/a/sp', 20, '1 hour', 'sp-r1') \gset
SELECT reservation_id AS sp2 FROM ledger.ledger_reserve('acme/a/sp', 30, '1 hour', 'sp-r2') \gset
SELECT reservation_id AS sp3 FROM ledger.ledger_reserve('acme/a/sp', 5, '1 minute', 'sp-r3') \gset
SELECT seq, kind, amount, balance, reserved, available, replayed
  FROM ledger.ledger_extend('acme/a/sp', :'sp2', '2 hours', 'sp-x2');
SELECT seq, kind, amount, balance, reserved, available, replayed
  FROM ledger.ledger_settle('acme/a/sp', :'sp1', 15, 'sp-s1');
SELECT pg_temp.try(pg_catalog.format($$SELECT ledger.ledger_settle('acme/a/sp', %L, 1, 'sp-s1b')$$, :'sp1'))
  AS settle_again;
SELECT seq, kind, amount, balance, reserved, available, replayed
  FROM ledger.ledger_cancel('acme/a/sp', :'sp2', 'sp-c2');
SELECT ordinal, sqlstate, message, wallet_id, seq, kind, amount, balance, reserved, replayed
  FROM ledger.ledger_reserve_batch(ARRAY['acme/a/sp', 'acme/a/sp', 'acme/b'], ARRAY[1, 2, 3],
                                   ARRAY[interval '1 hour', interval '1 hour', interval '1 hour'],
                                   ARRAY['sp-b1', 'sp-b2', 'sp-b3']);
SELECT ordinal, sqlstate, message, wallet_id, seq, kind, amount, balance, reserved, replayed
  FROM ledger.ledger_settle_batch(ARRAY['acme/a/sp', 'acme/b'],
                                  ARRAY[:'sp3', :'b_hold']::pg_catalog.uuid[],
                                  ARRAY[5, 5], ARRAY['sp-sb1', 'sp-sb2']);
SELECT wallet_id, unit, balance, reserved, available, active_reservations, last_seq
  FROM ledger.ledger_balance('acme/a/sp');
SELECT wallet_id, state, amount, captured
  FROM ledger.ledger_reservation('acme/a/sp', :'sp1');
SELECT pg_temp.try(pg_catalog.format($$SELECT ledger.ledger_reservation('acme/a/sp', %L)$$, :'b_hold'))
  AS other_wallets_hold;
SELECT seq, kind, amount, idempotency_key, balance, reserved, metadata
  FROM ledger.ledger_history('acme/a/sp', 0, 100);
SELECT seq, kind, amount FROM ledger.ledger_history('acme/a/sp', 7, 2);
SELECT wallet_id, seq, hash IS NOT NULL AS has_hash FROM ledger.ledger_head('acme/a/sp');
-- The planted grants of everything count for nothing.
SELECT pg_temp.try($$SELECT ledger.ledger_balance('acme/b')$$) AS read_b;
SELECT pg_temp.try($$SELECT ledger.ledger_debit('other/x', 1, 'sp-steal')$$) AS debit_other;
SELECT pg_temp.try($$SELECT ledger.ledger_balance('acme/ghost')$$) AS read_ghost;
RESET ROLE;

-- The auditor and the admin verify and sweep under the planted search_path.
SET ROLE regress_bl_sec_auditor;
SELECT wallet_id, problem FROM ledger.ledger_verify('acme/a/sp');
SELECT wallet_id, problem FROM ledger.ledger_verify();
SELECT wallet_id, balance, reserved, available, last_seq FROM ledger.ledger_balance('acme/a/sp');
RESET ROLE;
-- The 1-minute hold lapses: the sweep writes its expire event.
SET baseledger.clock_offset = '2min';
SET ROLE regress_bl_sec_admin;
SELECT reservation_id AS sp4 FROM ledger.ledger_reserve('acme/a/sp', 1, '1 minute', 'sp-r4') \gset
RESET ROLE;
SET baseledger.clock_offset = '4min';
SET ROLE regress_bl_sec_admin;
SELECT ledger.ledger_expire() AS expired;
SELECT wallet_id, problem FROM ledger.ledger_verify();
RESET ROLE;
RESET baseledger.clock_offset;

-- Not one planted object was ever invoked, by the ledger's queries or
-- anything they triggered, and the planted tables are as they were.
SET search_path = ledger, public;
SELECT who, what FROM regress_bl_evil.log;
SELECT (SELECT count(*) FROM regress_bl_evil.wallets) AS evil_wallets,
       (SELECT count(*) FROM regress_bl_evil.events) AS evil_events,
       (SELECT count(*) FROM regress_bl_evil.reservations) AS evil_reservations,
       (SELECT count(*) FROM regress_bl_evil.grants) AS evil_grants,
       (SELECT count(*) FROM pg_temp.wallets) AS temp_wallets,
       (SELECT count(*) FROM pg_temp.events) AS temp_events,
       (SELECT count(*) FROM pg_temp.grants) AS temp_grants;
-- What was written is right, read back as the superuser with a clean search_path.
SELECT seq, kind, amount, idempotency_key, balance, reserved, metadata FROM pg_temp.hist('acme/a/sp');
SELECT * FROM pg_temp.bal('acme/a/sp');
SELECT reservation_id = :'sp1' AS r1, reservation_id = :'sp2' AS r2, reservation_id = :'sp3' AS r3,
       reservation_id = :'sp4' AS r4, state, amount, captured
  FROM ledger.reservations WHERE wallet_id = 'acme/a/sp' ORDER BY created_at;
SELECT wallet_id, seq, hash = (SELECT e.hash FROM ledger.events e
                                WHERE e.wallet_id = 'acme/a/sp' ORDER BY e.seq DESC LIMIT 1) AS head_is_last_hash
  FROM ledger_head('acme/a/sp');
SELECT state, amount, captured FROM ledger_reservation('acme/b', :'b_hold');
SELECT * FROM ledger_verify();
DROP TABLE pg_temp.wallets, pg_temp.events, pg_temp.reservations, pg_temp.grants;
SET client_min_messages = warning;
DROP SCHEMA regress_bl_evil CASCADE;
RESET client_min_messages;

-- ---------------------------------------------------------------- injection

-- Hostile strings through every text argument. Wallet ids, units and
-- privileges are validated and refused with 22023; keys and metadata are
-- data, stored verbatim; a role name is a regrole, resolved by PostgreSQL.
CREATE TEMP TABLE nasty (n serial, s text);
INSERT INTO nasty (s) VALUES
  ($q$'; DROP TABLE ledger.events; --$q$),
  ($q$acme/a'; DELETE FROM ledger.grants; --$q$),
  ($q$acme/a' OR '1'='1$q$),
  ($q$acme/a$$; TRUNCATE ledger.wallets; $$$q$),
  ($q$acme/a"; DROP SCHEMA ledger CASCADE; --$q$),
  ($q$acme/a\'); SELECT pg_sleep(10); --$q$),
  ($q$acme/%$q$),
  ($q$acme/a/*$q$),
  ($q$acme/a%s%I%L$q$),
  ($q$acme/a; SELECT 1$q$),
  (E'acme/a\nDROP TABLE ledger.events');
GRANT SELECT ON nasty TO PUBLIC;
SET ROLE regress_bl_sec_admin;
SELECT call, pg_temp.try(format(q, s)) AS result, count(*) AS strings
  FROM nasty, (VALUES
    (1, 'create_wallet(id)', $$SELECT ledger.ledger_create_wallet(%L)$$),
    (2, 'create_wallet(unit)', $$SELECT ledger.ledger_create_wallet('acme/inj', %L)$$),
    (3, 'credit(id)', $$SELECT ledger.ledger_credit(%L, 1, 'k')$$),
    (4, 'grant(id)', $$SELECT ledger.ledger_grant('regress_bl_sec_client', %L, 'spend')$$),
    (5, 'grant(privilege)', $$SELECT ledger.ledger_grant('regress_bl_sec_client', 'acme/a', %L)$$),
    (6, 'revoke(id)', $$SELECT ledger.ledger_revoke('regress_bl_sec_client', %L, 'spend')$$),
    (7, 'revoke(privilege)', $$SELECT ledger.ledger_revoke('regress_bl_sec_client', 'acme/a', %L)$$),
    (8, 'verify(id)', $$SELECT ledger.ledger_verify(%L)$$)
  ) AS c(m, call, q)
 GROUP BY m, call, result ORDER BY m, result;
-- A hostile role name never reaches the ledger: PostgreSQL cannot read it as a role.
SELECT pg_temp.try(format($$SELECT ledger.ledger_grant(%L, 'acme/a', 'read')$$, s)) AS role_name
  FROM nasty WHERE n IN (1, 5);
RESET ROLE;
SET ROLE regress_bl_sec_client;
SELECT call, pg_temp.try(format(q, s, :'a_hold')) AS result, count(*) AS strings
  FROM nasty, (VALUES
    (1, 'debit(id)', $$SELECT ledger.ledger_debit(%L, 1, 'k')$$),
    (2, 'reserve(id)', $$SELECT ledger.ledger_reserve(%L, 1, '1 hour', 'k')$$),
    (3, 'settle(id)', $$SELECT ledger.ledger_settle(%L, %L, 1, 'k')$$),
    (4, 'cancel(id)', $$SELECT ledger.ledger_cancel(%L, %L, 'k')$$),
    (5, 'extend(id)', $$SELECT ledger.ledger_extend(%L, %L, '1 hour', 'k')$$),
    (6, 'balance(id)', $$SELECT ledger.ledger_balance(%L)$$),
    (7, 'reservation(id)', $$SELECT ledger.ledger_reservation(%L, %L)$$),
    (8, 'history(id)', $$SELECT ledger.ledger_history(%L)$$),
    (9, 'head(id)', $$SELECT ledger.ledger_head(%L)$$)
  ) AS c(m, call, q)
 GROUP BY m, call, result ORDER BY m, result;
-- In a batch, a hostile wallet id refuses its own element only.
SELECT ordinal, sqlstate, message, wallet_id
  FROM ledger_reserve_batch(ARRAY[(SELECT s FROM nasty WHERE n = 1), 'acme/a'], ARRAY[1, 1],
                            ARRAY[interval '1 hour', '1 hour'],
                            ARRAY['inj-b1', (SELECT 'batch: ' || s FROM nasty WHERE n = 2)]);
SELECT ordinal, sqlstate, message, wallet_id
  FROM ledger_settle_batch(ARRAY[(SELECT s FROM nasty WHERE n = 3)], ARRAY[:'a_hold'::uuid],
                           ARRAY[1], ARRAY['inj-s1']);
-- Keys and metadata are data: each hostile string is a key, and a key and a
-- value of the metadata, stored and read back as given.
SELECT n, kind, replayed
  FROM nasty, ledger_debit('acme/a', 1, s, jsonb_build_object(s, s, 'n', n)) d
 ORDER BY n;
-- A retry with the same hostile key replays; another amount conflicts.
SELECT n, kind, replayed
  FROM nasty, ledger_debit('acme/a', 1, s, jsonb_build_object(s, s, 'n', n)) d
 ORDER BY n;
SELECT pg_temp.try(format($$SELECT ledger.ledger_debit('acme/a', 2, %L)$$, s)) AS other_amount
  FROM nasty WHERE n = 1;
SELECT h.idempotency_key = x.s AS key_verbatim, h.metadata ->> x.s = x.s AS metadata_verbatim,
       (h.metadata ->> 'n')::int AS n
  FROM ledger_history('acme/a', 0, 1000) h JOIN nasty x ON x.s = h.idempotency_key
 ORDER BY n;
RESET ROLE;
-- Everything is still there, and consistent.
SELECT to_regclass('ledger.events') IS NOT NULL AS events_table,
       to_regclass('ledger.wallets') IS NOT NULL AS wallets_table,
       to_regnamespace('ledger') IS NOT NULL AS ledger_schema,
       (SELECT count(*) FROM ledger.grants) AS grants,
       (SELECT count(*) FROM ledger.wallets WHERE wallet_id LIKE 'acme/inj%') AS injected_wallets;
SELECT * FROM ledger_verify();

-- ---------------------------------------------------------------- tampering

-- Wallets of four events each: credit 100, debit 10, debit 20, debit 5.
CREATE TEMP TABLE tam (w text);
INSERT INTO tam VALUES ('tam-amount'), ('tam-delete'), ('tam-reorder'), ('tam-hash'),
  ('tam-last-hash'), ('tam-rewrite'), ('tam-head'), ('tam-clean');
SELECT count(*) FROM tam, ledger_create_wallet(w);
SELECT count(*) FROM tam, ledger_credit(w, 100, 'c');
SELECT count(*) FROM tam, ledger_debit(w, 10, 'd1');
SELECT count(*) FROM tam, ledger_debit(w, 20, 'd2');
SELECT count(*) FROM tam, ledger_debit(w, 5, 'd3');
SELECT count(*) AS problems FROM ledger_verify();
-- Every event has a 32-byte hash, and each wallet's head is its last event's.
SELECT count(*) AS events, count(*) FILTER (WHERE length(hash) = 32) AS hashed,
       count(DISTINCT hash) AS distinct_hashes
  FROM ledger.events WHERE wallet_id LIKE 'tam-%';
SELECT count(*) AS heads_matching FROM ledger.wallets w
  JOIN ledger.events e ON e.wallet_id = w.wallet_id AND e.seq = w.last_seq
 WHERE w.wallet_id LIKE 'tam-%' AND w.last_hash = e.hash;

-- As a superuser, with the event log's triggers disabled.
BEGIN;
ALTER TABLE ledger.events DISABLE TRIGGER ALL;
-- an amount altered: debit 10 -> 11
UPDATE ledger.events SET amount = 11 WHERE wallet_id = 'tam-amount' AND seq = 2;
-- an event deleted
DELETE FROM ledger.events WHERE wallet_id = 'tam-delete' AND seq = 2;
-- two events reordered: seq 2 and 3 swapped
UPDATE ledger.events SET seq = 1000 WHERE wallet_id = 'tam-reorder' AND seq = 2;
UPDATE ledger.events SET seq = 2 WHERE wallet_id = 'tam-reorder' AND seq = 3;
UPDATE ledger.events SET seq = 3 WHERE wallet_id = 'tam-reorder' AND seq = 1000;
-- a hash replaced
UPDATE ledger.events SET hash = sha256('forged'::bytea) WHERE wallet_id = 'tam-hash' AND seq = 3;
-- the last event's hash replaced, and the wallet's head with it
UPDATE ledger.events SET hash = sha256('forged'::bytea) WHERE wallet_id = 'tam-last-hash' AND seq = 4;
-- a consistent rewrite: the credit made 1000, every later balance raised to
-- match, so that the replay finds nothing wrong
UPDATE ledger.events SET amount = 1000 WHERE wallet_id = 'tam-rewrite' AND seq = 1;
UPDATE ledger.events SET balance = balance + 900 WHERE wallet_id = 'tam-rewrite';
ALTER TABLE ledger.events ENABLE ALWAYS TRIGGER events_no_update_delete;
ALTER TABLE ledger.events ENABLE ALWAYS TRIGGER events_no_truncate;
COMMIT;
UPDATE ledger.wallets SET last_hash = sha256('forged'::bytea) WHERE wallet_id = 'tam-last-hash';
UPDATE ledger.wallets SET balance = balance + 900 WHERE wallet_id = 'tam-rewrite';
-- only the head replaced
UPDATE ledger.wallets SET last_hash = sha256('forged'::bytea) WHERE wallet_id = 'tam-head';
SELECT tgname, tgenabled FROM pg_trigger
 WHERE tgrelid = 'ledger.events'::regclass AND NOT tgisinternal ORDER BY tgname;
-- Each is reported, with the first seq whose hash does not follow; the
-- untouched wallet is not.
SELECT wallet_id, problem FROM ledger_verify() WHERE wallet_id LIKE 'tam-%'
 ORDER BY wallet_id COLLATE "C";
-- The auditor sees the same.
SET ROLE regress_bl_sec_auditor;
SELECT count(*) AS problems, count(*) FILTER (WHERE problem LIKE '%hash chain broken%') AS chain_breaks
  FROM ledger_verify() WHERE wallet_id LIKE 'tam-%';
RESET ROLE;

-- ---------------------------------------------------------------- checkpoints

-- An outside system keeps (seq, hash) from ledger_head. A rewrite that leaves
-- a consistent ledger behind -- replay and chain both clean -- still no longer
-- matches the checkpoint.
SELECT count(*) FROM unnest(ARRAY['cp-a', 'cp-b', 'cp-c']) w, ledger_create_wallet(w);
SELECT count(*) FROM unnest(ARRAY['cp-a', 'cp-b', 'cp-c']) w, ledger_credit(w, 100, 'c');
SELECT count(*) FROM unnest(ARRAY['cp-a', 'cp-b', 'cp-c']) w, ledger_debit(w, 10, 'd1');
SELECT count(*) FROM unnest(ARRAY['cp-a', 'cp-b', 'cp-c']) w, ledger_debit(w, 20, 'd2');
-- Before the first event there is no hash.
SELECT count(*) FROM ledger_create_wallet('cp-empty');
SELECT wallet_id, seq, hash FROM ledger_head('cp-empty');
SET ROLE regress_bl_sec_auditor;
SELECT seq AS a_seq, encode(hash, 'hex') AS a_hash FROM ledger_head('cp-a') \gset
SELECT seq AS b_seq, encode(hash, 'hex') AS b_hash FROM ledger_head('cp-b') \gset
SELECT seq AS c_seq, encode(hash, 'hex') AS c_hash FROM ledger_head('cp-c') \gset
RESET ROLE;
SELECT :a_seq AS a_seq, :b_seq AS b_seq, :c_seq AS c_seq, length(decode(:'a_hash', 'hex')) AS bytes;
-- cp-a: the last event removed, and the wallet row put back as it was before it.
BEGIN;
ALTER TABLE ledger.events DISABLE TRIGGER ALL;
DELETE FROM ledger.events WHERE wallet_id = 'cp-a' AND seq = 3;
ALTER TABLE ledger.events ENABLE ALWAYS TRIGGER events_no_update_delete;
ALTER TABLE ledger.events ENABLE ALWAYS TRIGGER events_no_truncate;
UPDATE ledger.wallets w SET balance = e.balance, reserved = e.reserved, last_seq = e.seq,
                            last_at = e.at, last_hash = e.hash
  FROM ledger.events e WHERE e.wallet_id = 'cp-a' AND e.seq = 2 AND w.wallet_id = 'cp-a';
COMMIT;
-- cp-b: the whole history erased and written again through the API, with the
-- second debit 2 instead of 20: the ledger chains it afresh.
BEGIN;
ALTER TABLE ledger.events DISABLE TRIGGER ALL;
DELETE FROM ledger.events WHERE wallet_id = 'cp-b';
ALTER TABLE ledger.events ENABLE ALWAYS TRIGGER events_no_update_delete;
ALTER TABLE ledger.events ENABLE ALWAYS TRIGGER events_no_truncate;
UPDATE ledger.wallets SET balance = 0, reserved = 0, active_reservations = 0, last_seq = 0,
                          last_at = NULL, last_hash = NULL
 WHERE wallet_id = 'cp-b';
COMMIT;
SELECT seq, kind, amount, balance FROM ledger_credit('cp-b', 100, 'c');
SELECT seq, kind, amount, balance FROM ledger_debit('cp-b', 10, 'd1');
SELECT seq, kind, amount, balance FROM ledger_debit('cp-b', 2, 'd2');
-- ledger_verify finds nothing wrong with either ...
SELECT * FROM ledger_verify('cp-a');
SELECT * FROM ledger_verify('cp-b');
-- ... but the checkpoints do: cp-a went back to an earlier seq, cp-b has
-- another hash at the same seq. cp-c, untouched, still matches.
SET ROLE regress_bl_sec_auditor;
SELECT wallet_id, seq, seq >= :a_seq AS not_behind, encode(hash, 'hex') = :'a_hash' AS checkpoint_matches
  FROM ledger_head('cp-a');
SELECT wallet_id, seq, seq >= :b_seq AS not_behind, encode(hash, 'hex') = :'b_hash' AS checkpoint_matches
  FROM ledger_head('cp-b');
SELECT wallet_id, seq, seq >= :c_seq AS not_behind, encode(hash, 'hex') = :'c_hash' AS checkpoint_matches
  FROM ledger_head('cp-c');
RESET ROLE;
-- A checkpoint stays valid while the wallet moves on: the event at the
-- checkpoint's seq keeps its hash.
SELECT kind FROM ledger_debit('cp-c', 1, 'd3');
SELECT seq, encode(hash, 'hex') = :'c_hash' AS checkpoint_hash
  FROM ledger.events WHERE wallet_id = 'cp-c' AND seq = :c_seq;
SELECT seq, encode(hash, 'hex') = :'c_hash' AS head_is_checkpoint FROM ledger_head('cp-c');

-- ---------------------------------------------------------------- a bound on active holds

SHOW baseledger.max_active_reservations;
SET baseledger.max_active_reservations = 3;
SELECT count(*) FROM ledger_create_wallet('acme/a/lim');
SELECT kind, balance FROM ledger_credit('acme/a/lim', 1000, 'fund');
SET ROLE regress_bl_sec_client;
-- Only a superuser may move the bound.
SELECT pg_temp.try($$SET baseledger.max_active_reservations = 100000$$) AS client_sets_limit;
SELECT reservation_id AS lim1 FROM ledger_reserve('acme/a/lim', 10, '1 hour', 'lim-1') \gset
SELECT kind, reserved FROM ledger_reserve('acme/a/lim', 10, '1 hour', 'lim-2');
SELECT kind, reserved FROM ledger_reserve('acme/a/lim', 10, '1 minute', 'lim-3');
-- The fourth active hold is refused with 54000, and writes nothing.
SELECT code, message, detail, hint
  FROM pg_temp.error_of($$SELECT ledger.ledger_reserve('acme/a/lim', 10, '1 hour', 'lim-4')$$);
SELECT balance, reserved, active_reservations, last_seq FROM pg_temp.bal('acme/a/lim');
-- A retry of an earlier reserve still replays.
SELECT kind, reserved, replayed FROM ledger_reserve('acme/a/lim', 10, '1 hour', 'lim-1');
-- Other writes go on.
SELECT kind, balance, reserved FROM ledger_debit('acme/a/lim', 1, 'lim-debit');
-- A batch stops at the bound, element by element.
SELECT ordinal, sqlstate, message, kind
  FROM ledger_reserve_batch(ARRAY['acme/a/lim', 'acme/a/lim'], ARRAY[1, 1],
                            ARRAY[interval '1 hour', '1 hour'], ARRAY['lim-b1', 'lim-b2']);
-- A closed hold frees a place.
SELECT kind, reserved FROM ledger_cancel('acme/a/lim', :'lim1', 'lim-cancel-1');
SELECT ordinal, sqlstate, message, kind, reserved
  FROM ledger_reserve_batch(ARRAY['acme/a/lim', 'acme/a/lim'], ARRAY[1, 1],
                            ARRAY[interval '1 hour', '1 hour'], ARRAY['lim-b3', 'lim-b4']);
SELECT code FROM pg_temp.error_of($$SELECT ledger.ledger_reserve('acme/a/lim', 10, '1 hour', 'lim-5')$$);
RESET ROLE;
-- So does a lapsed one: its expire event is written before the new hold.
SET baseledger.clock_offset = '2min';
SET ROLE regress_bl_sec_client;
SELECT kind, reserved FROM ledger_reserve('acme/a/lim', 10, '1 hour', 'lim-6');
SELECT balance, reserved, active_reservations, last_seq FROM pg_temp.bal('acme/a/lim');
SELECT seq, kind, amount, idempotency_key, reserved FROM pg_temp.hist('acme/a/lim') WHERE seq > 7;
RESET ROLE;
RESET baseledger.clock_offset;
RESET baseledger.max_active_reservations;
SHOW baseledger.max_active_reservations;
SELECT * FROM ledger_verify() WHERE wallet_id NOT LIKE 'tam-%';

-- ---------------------------------------------------------------- clean up

SET client_min_messages = warning;
DROP OWNED BY regress_bl_sec_admin, regress_bl_sec_client, regress_bl_sec_reader,
  regress_bl_sec_stranger, regress_bl_sec_auditor, regress_bl_sec_outsider,
  regress_bl_sec_nobody, regress_bl_sec_team, regress_bl_sec_agent7, regress_bl_sec_under;
DROP ROLE regress_bl_sec_admin, regress_bl_sec_client, regress_bl_sec_reader,
  regress_bl_sec_stranger, regress_bl_sec_auditor, regress_bl_sec_outsider,
  regress_bl_sec_nobody, regress_bl_sec_team, regress_bl_sec_agent7, regress_bl_sec_under;
RESET client_min_messages;
SELECT count(*) AS test_roles_left FROM pg_roles WHERE rolname LIKE 'regress\_bl\_sec\_%';

-- ---------------------------------------------------------------- checkpoints at any seq
-- ledger_head(wallet, seq) gives the hash of an earlier event: a checkpoint
-- taken at seq 2 can be checked after the wallet has moved on, and it stops
-- matching once the history up to it is rewritten.
SELECT ledger_create_wallet('ckpt-a') IS NOT NULL AS created;
SELECT (ledger_credit('ckpt-a', 100, 'c1')).seq, (ledger_credit('ckpt-a', 5, 'c2')).seq;
CREATE TEMP TABLE ckpt AS SELECT seq, hash FROM ledger_head('ckpt-a');
SELECT (ledger_debit('ckpt-a', 7, 'd1')).seq;
SELECT h.seq, h.hash = c.hash AS matches_checkpoint
  FROM ledger_head('ckpt-a', 2) h, ckpt c;
SELECT h.seq, h.hash = c.hash AS head_is_checkpoint
  FROM ledger_head('ckpt-a') h, ckpt c;
SELECT count(*) AS rows_for_missing_seq FROM ledger_head('ckpt-a', 99);
ALTER TABLE ledger.events DISABLE TRIGGER ALL;
UPDATE ledger.events SET amount = 6 WHERE wallet_id = 'ckpt-a' AND seq = 1;
ALTER TABLE ledger.events ENABLE ALWAYS TRIGGER events_no_update_delete;
ALTER TABLE ledger.events ENABLE ALWAYS TRIGGER events_no_truncate;
-- The stored hash of seq 2 is unchanged, but verify shows the chain broken at 1.
SELECT h.hash = c.hash AS stored_hash_unchanged FROM ledger_head('ckpt-a', 2) h, ckpt c;
SELECT problem FROM ledger_verify('ckpt-a') WHERE problem LIKE '%hash%';
