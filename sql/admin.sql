-- The administration views (wallet_tree, active_reservations,
-- expiring_reservations, lapsed_reservations, daily_spend), the comments that
-- make \d+ and \df+ explain every object, and the tables registered for
-- pg_dump. The views count holds the way ledger_balance() does: a hold stops
-- counting the instant its expires_at passes on the ledger's clock, which is
-- moved here with baseledger.clock_offset.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS baseledger CASCADE;
CREATE EXTENSION baseledger;
RESET client_min_messages;
SET search_path = ledger, public;
SET TimeZone = 'UTC';

-- Runs a statement and reports 'ok' or its SQLSTATE and message.
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
-- Rows where a wallet's own figures in wallet_tree differ from ledger_balance().
CREATE TEMP VIEW tree_vs_balance AS
  SELECT t.wallet_id, t.unit, t.balance, t.reserved, t.available, t.active_reservations,
         t.last_seq, b.balance AS b_balance, b.reserved AS b_reserved,
         b.available AS b_available, b.active_reservations AS b_active, b.last_seq AS b_last_seq
    FROM ledger.wallet_tree t, ledger.ledger_balance(t.wallet_id) b
   WHERE t.is_wallet
     AND (t.unit, t.balance, t.reserved, t.available, t.active_reservations, t.last_seq)
         IS DISTINCT FROM (b.unit, b.balance, b.reserved, b.available, b.active_reservations,
                           b.last_seq);

-- ---------------------------------------------------------------- a fleet

-- Org acme with team acme/research and its two agents; tree labs in another
-- unit, whose team labs/ops is uncapped (it only tracks its agent's spending);
-- and a lone wallet.
SELECT wallet_id FROM ledger_create_wallet('acme');
SELECT wallet_id FROM ledger_create_wallet('acme/research');
SELECT wallet_id FROM ledger_create_wallet('acme/research/agent-1');
SELECT wallet_id FROM ledger_create_wallet('acme/research/agent-2');
SELECT wallet_id FROM ledger_create_wallet('labs', 'usd_micros');
SELECT wallet_id FROM ledger_create_wallet('labs/ops', 'usd_micros', capped => false);
SELECT wallet_id FROM ledger_create_wallet('labs/ops/agent-9', 'usd_micros');
SELECT wallet_id FROM ledger_create_wallet('solo');
-- Yesterday (the ledger's clock one day back, on wallets with no event yet, as
-- an event is never stamped before its wallet's last one): the org and the
-- team are funded, agent-2 is funded and spends 40 by debit (at every level);
-- agent-9 is funded and captures 100 of a 300 hold (labs/ops only tracks it).
SET baseledger.clock_offset = '-1d';
SELECT kind, amount, balance FROM ledger_credit('acme', 10000, 'fund');
SELECT kind, amount, balance FROM ledger_credit('acme/research', 5000, 'fund');
SELECT kind, amount, balance FROM ledger_credit('acme/research/agent-2', 500, 'fund');
SELECT kind, amount, balance FROM ledger_debit('acme/research/agent-2', 40, 'y-debit');
SELECT kind, amount, balance FROM ledger_credit('labs', 2000, 'fund');
SELECT kind, amount, balance FROM ledger_credit('labs/ops/agent-9', 800, 'fund');
SELECT reservation_id AS y_hold
  FROM ledger_reserve('labs/ops/agent-9', 300, '1 hour', 'y-hold') \gset
SELECT kind, amount, balance FROM ledger_settle('labs/ops/agent-9', :'y_hold', 100, 'y-settle');
RESET baseledger.clock_offset;
SELECT kind, amount, balance FROM ledger_credit('acme/research/agent-1', 1000, 'fund');
SELECT kind, amount, balance FROM ledger_credit('solo', 50, 'fund');

-- Today: holds of 2 minutes, 1 hour and 10 minutes, one settled, one
-- cancelled, a debit.
SELECT reservation_id AS h_short
  FROM ledger_reserve('acme/research/agent-1', 200, '2 minutes', 'h-short') \gset
SELECT reservation_id AS h_long
  FROM ledger_reserve('acme/research/agent-1', 300, '1 hour', 'h-long') \gset
SELECT reservation_id AS h_solo
  FROM ledger_reserve('solo', 30, '10 minutes', 'h-solo') \gset
SELECT reservation_id AS h_settled
  FROM ledger_reserve('acme/research/agent-2', 100, '1 hour', 'h-settled') \gset
SELECT kind, amount, balance, reserved
  FROM ledger_settle('acme/research/agent-2', :'h_settled', 60, 's-settled');
SELECT reservation_id AS h_cancelled
  FROM ledger_reserve('labs/ops/agent-9', 50, '1 hour', 'h-cancelled') \gset
SELECT kind, amount, balance, reserved
  FROM ledger_cancel('labs/ops/agent-9', :'h_cancelled', 'c-cancelled');
SELECT kind, amount, balance FROM ledger_debit('acme/research/agent-1', 25, 't-debit');

-- ---------------------------------------------------------------- wallet_tree

-- Depth first, one row per node: a wallet's own figures already count its
-- subtree, so a node's subtree figures are its top-most wallets' (its own).
SELECT tree, unit, is_wallet, balance, reserved, available, active_reservations, last_seq,
       subtree_wallets, subtree_balance, subtree_reserved, subtree_available,
       subtree_active_reservations
  FROM wallet_tree;
SELECT wallet_id, parent_id, depth, path, last_event_at IS NOT NULL AS has_events
  FROM wallet_tree;
-- Each wallet's own figures are ledger_balance()'s.
SELECT * FROM tree_vs_balance;

-- ---------------------------------------------------------------- reservations

-- The holds in force, soonest to lapse first; the settled and cancelled ones
-- are not listed.
SELECT wallet_id, unit, amount, expires_in > interval '0' AS in_force,
       expires_at = created_at + (expires_in + held_for) AS times_add_up
  FROM active_reservations;
SELECT reservation_id = :'h_short' AS is_h_short, expires_in <= interval '2 minutes' AS within_ttl
  FROM active_reservations WHERE amount = 200;
-- Within 5 minutes of lapsing: only the 2-minute hold.
SELECT wallet_id, amount FROM expiring_reservations;
SELECT * FROM lapsed_reservations;

-- Eight minutes on: the 2-minute hold has lapsed. It leaves active and
-- expiring at once, waits in lapsed_reservations for its expire event, and
-- no longer counts in the tree; the 10-minute hold now lapses within 5.
SET baseledger.clock_offset = '8min';
SELECT wallet_id, amount FROM active_reservations;
SELECT wallet_id, amount FROM expiring_reservations;
SELECT wallet_id, reservation_id = :'h_short' AS is_h_short, amount,
       lapsed_for > interval '5 minutes' AS lapsed_minutes_ago
  FROM lapsed_reservations;
SELECT tree, unit, balance, reserved, available, active_reservations,
       subtree_reserved, subtree_available, subtree_active_reservations
  FROM wallet_tree WHERE unit = 'credits';
SELECT * FROM tree_vs_balance;
-- The stored projection still counts it until the sweep writes the refund.
SELECT wallet_id, reserved, active_reservations FROM ledger.wallets
 WHERE wallet_id = 'acme/research/agent-1';
SELECT ledger_expire() AS expired;
SELECT * FROM lapsed_reservations;
SELECT wallet_id, reserved, active_reservations FROM ledger.wallets
 WHERE wallet_id = 'acme/research/agent-1';

-- A heartbeat on the 10-minute hold takes it out of expiring_reservations.
SELECT kind, amount, expires_at - at AS ttl
  FROM ledger_extend('solo', :'h_solo', '30 minutes', 'x-solo');
SELECT wallet_id, amount FROM expiring_reservations;
SELECT wallet_id, amount, updated_at > created_at AS extended FROM active_reservations;
-- Fifty-five minutes on: the hour-long hold lapses within 5 minutes.
SET baseledger.clock_offset = '55min';
SELECT wallet_id, amount FROM expiring_reservations;
SELECT * FROM tree_vs_balance;
RESET baseledger.clock_offset;

-- ---------------------------------------------------------------- daily_spend

-- Spend = debits + captured, per day and per subtree: every spend counts
-- once, at the wallet that made it, in its own row and in each prefix of its
-- path (not again through its ancestors' records). Day 0 is yesterday.
SELECT day - min(day) OVER () AS day_index, wallet_id, depth, unit, spent, debited, captured,
       debits, settles, wallets
  FROM daily_spend;
-- The days are the events' dates.
SELECT max(day) = (SELECT max(at)::date FROM ledger.events) AS last_day_matches,
       min(day) = (SELECT min(at)::date FROM ledger.events WHERE kind = 'debit') AS first_day_matches
  FROM daily_spend;
-- Over all days, what a tree spent is what its root lost (credited minus
-- balance): the root's balance already counts its subtree's spending.
WITH lost AS (
  SELECT w.wallet_id AS root, w.unit,
         (SELECT sum(e.amount) FROM ledger.events e
           WHERE e.wallet_id = w.wallet_id AND e.kind = 'credit') - w.balance AS lost
    FROM ledger.wallets w
   WHERE w.root_id = w.wallet_id
)
SELECT l.root, l.unit, l.lost,
       coalesce((SELECT sum(d.spent) FROM daily_spend d
                  WHERE d.wallet_id = l.root AND d.unit = l.unit), 0) AS spent
  FROM lost l
 ORDER BY l.root, l.unit;

-- A hold made with on_expire => 'capture' that lapses is spending too, on
-- the day its expire event is written.
SELECT wallet_id FROM ledger_create_wallet('capt');
SELECT kind, amount, balance FROM ledger_credit('capt', 100, 'fund');
SELECT kind, amount FROM ledger_reserve('capt', 30, '1 minute', 'c-hold', on_expire => 'capture');
SET baseledger.clock_offset = '2min';
SELECT ledger_expire() AS expired;
RESET baseledger.clock_offset;
SELECT wallet_id, spent, debited, captured, debits, settles FROM daily_spend
 WHERE wallet_id = 'capt';

-- ---------------------------------------------------------------- privileges

-- The views read every wallet with the owner's rights and are granted to no
-- role, the extension's roles included.
SELECT c.relname, c.reloptions,
       has_table_privilege('public', c.oid, 'SELECT') AS public,
       has_table_privilege('baseledger_client', c.oid, 'SELECT') AS client,
       has_table_privilege('baseledger_admin', c.oid, 'SELECT') AS admin,
       has_table_privilege('baseledger_auditor', c.oid, 'SELECT') AS auditor
  FROM pg_class c
 WHERE c.relnamespace = 'ledger'::regnamespace AND c.relkind = 'v'
 ORDER BY c.relname;
SET client_min_messages = warning;
DROP ROLE IF EXISTS baseledger_admin_test_nobody;
DROP ROLE IF EXISTS baseledger_admin_test_auditor;
RESET client_min_messages;
CREATE ROLE baseledger_admin_test_nobody NOLOGIN;
CREATE ROLE baseledger_admin_test_auditor NOLOGIN IN ROLE baseledger_auditor;
SET ROLE baseledger_admin_test_nobody;
SELECT pg_temp.try('SELECT count(*) FROM ledger.wallet_tree');
RESET ROLE;
SET ROLE baseledger_admin_test_auditor;
SELECT pg_temp.try('SELECT count(*) FROM ledger.active_reservations');
RESET ROLE;
-- An operator who lets auditors use them grants the views, not the tables.
GRANT SELECT ON ledger.wallet_tree, ledger.active_reservations, ledger.daily_spend
  TO baseledger_auditor;
SET ROLE baseledger_admin_test_auditor;
SELECT count(*) AS tree_rows FROM ledger.wallet_tree;
SELECT wallet_id, amount FROM ledger.active_reservations;
SELECT count(*) AS spend_rows FROM ledger.daily_spend;
SELECT pg_temp.try('SELECT count(*) FROM ledger.events');
RESET ROLE;
REVOKE SELECT ON ledger.wallet_tree, ledger.active_reservations, ledger.daily_spend
  FROM baseledger_auditor;
DROP ROLE baseledger_admin_test_nobody;
DROP ROLE baseledger_admin_test_auditor;

-- ---------------------------------------------------------------- comments

-- Every object of schema ledger explains itself in \d+, \dT+, \dv+ and \df+:
-- no table, view, index, column, type, composite type attribute, function,
-- constraint or trigger without a comment. No rows means none is missing.
SELECT 'relation ' || c.oid::regclass AS undocumented
  FROM pg_class c
 WHERE c.relnamespace = 'ledger'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'i')
   AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = c.oid)
   AND coalesce(obj_description(c.oid, 'pg_class'), '') = ''
UNION ALL
SELECT 'column ' || c.oid::regclass || '.' || a.attname
  FROM pg_class c
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE c.relnamespace = 'ledger'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'c')
   AND coalesce(col_description(c.oid, a.attnum), '') = ''
UNION ALL
SELECT 'type ' || t.oid::regtype
  FROM pg_type t
 WHERE t.typnamespace = 'ledger'::regnamespace AND t.typtype IN ('b', 'c', 'd', 'e', 'm', 'r')
   AND t.typelem = 0
   AND (t.typrelid = 0 OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
   AND coalesce(obj_description(t.oid, 'pg_type'), '') = ''
UNION ALL
SELECT 'function ' || p.oid::regprocedure
  FROM pg_proc p
 WHERE p.pronamespace = 'ledger'::regnamespace
   AND coalesce(obj_description(p.oid, 'pg_proc'), '') = ''
UNION ALL
SELECT 'constraint ' || k.conname || ' on ' || coalesce(k.conrelid::regclass::text, k.contypid::regtype::text)
  FROM pg_constraint k
 WHERE k.connamespace = 'ledger'::regnamespace
   AND coalesce(obj_description(k.oid, 'pg_constraint'), '') = ''
UNION ALL
SELECT 'trigger ' || g.tgname || ' on ' || g.tgrelid::regclass
  FROM pg_trigger g
  JOIN pg_class c ON c.oid = g.tgrelid
 WHERE c.relnamespace = 'ledger'::regnamespace
   AND coalesce(obj_description(g.oid, 'pg_trigger'), '') = ''
UNION ALL
SELECT 'schema ledger'
 WHERE coalesce(obj_description('ledger'::regnamespace, 'pg_namespace'), '') = ''
ORDER BY 1;

-- A sample of what psql shows.
SELECT col_description('ledger.events'::regclass, 3) AS events_kind;
SELECT obj_description('ledger.lapsed_reservations'::regclass, 'pg_class') AS lapsed_reservations;

-- ---------------------------------------------------------------- dump

-- The ledger's tables are configuration tables of the extension: pg_dump
-- dumps their rows, so a restore brings the money back.
SELECT cfg::regclass AS dumped_table, cond AS filter
  FROM pg_extension e, unnest(e.extconfig, e.extcondition) AS u(cfg, cond)
 WHERE e.extname = 'baseledger'
 ORDER BY cfg::regclass::text;

SELECT * FROM ledger_verify();
