-- baseledger 0.1.0 -> 0.2.0. Version 0.1.0 is released and its script stays
-- as it is; every change to the schema comes in an update script like this
-- one. CREATE EXTENSION baseledger installs 0.1.0 and applies the updates.

\echo Use "ALTER EXTENSION baseledger UPDATE TO '0.2.0'" to load this file. \quit

-- ---------------------------------------------------------------- security

-- Roles to grant to login roles. Roles belong to the cluster, not to the
-- database, so they are created only when missing and outlive the extension.
DO $$
DECLARE
  r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['baseledger_admin', 'baseledger_client', 'baseledger_auditor'] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
      EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r);
    END IF;
  END LOOP;
END
$$;
COMMENT ON ROLE baseledger_admin IS
  'baseledger: creates wallets, credits them, grants access; acts on every wallet';
COMMENT ON ROLE baseledger_client IS
  'baseledger: reserves, settles, cancels, extends, debits and reads the wallets granted to it';
COMMENT ON ROLE baseledger_auditor IS
  'baseledger: reads every wallet''s history and verifies the ledger; moves nothing';

-- Per-wallet grants for clients. A grant on a wallet covers every wallet
-- under it: a grant on acme/research covers acme/research/agent-7.
CREATE TABLE @extschema@.grants (
  wallet_id  text COLLATE "C" NOT NULL,
  role_id    regrole          NOT NULL,
  privilege  text             NOT NULL CHECK (privilege IN ('read', 'spend')),
  granted_at timestamptz      NOT NULL,
  PRIMARY KEY (wallet_id, role_id, privilege)
);
COMMENT ON TABLE @extschema@.grants IS
  'Which roles may read or spend from which wallets (and every wallet under them)';
COMMENT ON COLUMN @extschema@.grants.wallet_id IS
  'The wallet granted; the grant covers every wallet under it';
COMMENT ON COLUMN @extschema@.grants.role_id IS
  'The role granted (and its members); dumped by name, so grants survive pg_dump and pg_restore';
COMMENT ON COLUMN @extschema@.grants.privilege IS
  'read: balance, reservations, history; spend: also debit, reserve, settle, cancel, extend';
COMMENT ON COLUMN @extschema@.grants.granted_at IS 'When the grant was made';
COMMENT ON CONSTRAINT grants_pkey ON @extschema@.grants IS 'One grant per wallet, role and privilege';
COMMENT ON CONSTRAINT grants_privilege_check ON @extschema@.grants IS
  'A privilege is read or spend';
REVOKE ALL ON @extschema@.grants FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('@extschema@.grants', '');

-- The hash chain: each event's SHA-256 over the previous event's hash and its
-- own content; the wallet keeps the head.
ALTER TABLE @extschema@.events ADD COLUMN hash bytea;
ALTER TABLE @extschema@.wallets ADD COLUMN last_hash bytea;

-- Events written before 0.2.0 are chained now, in seq order, by a helper that
-- exists only while this script runs (the log refuses UPDATE otherwise).
CREATE FUNCTION @extschema@.ledger_chain_backfill() RETURNS bigint
  LANGUAGE c AS 'MODULE_PATHNAME', 'ledger_chain_backfill';
ALTER TABLE @extschema@.events DISABLE TRIGGER events_no_update_delete;
SELECT @extschema@.ledger_chain_backfill();
ALTER TABLE @extschema@.events ENABLE ALWAYS TRIGGER events_no_update_delete;
DROP FUNCTION @extschema@.ledger_chain_backfill();
ALTER TABLE @extschema@.events ALTER COLUMN hash SET NOT NULL;
ALTER TABLE @extschema@.events
  ADD CONSTRAINT events_hash_is_sha256 CHECK (pg_catalog.length(hash) = 32);
COMMENT ON COLUMN @extschema@.events.hash IS
  'SHA-256 over the previous event''s hash (zeros for seq 1) and this event''s canonical content';
COMMENT ON COLUMN @extschema@.wallets.last_hash IS
  'Hash of the wallet''s last event: the head of its chain (NULL before the first event)';
COMMENT ON CONSTRAINT events_hash_is_sha256 ON @extschema@.events IS 'A hash is 32 bytes';

CREATE FUNCTION @extschema@.ledger_head(wallet_id text, seq bigint DEFAULT NULL)
  RETURNS TABLE (wallet_id text, seq bigint, hash bytea)
  LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'ledger_head';
COMMENT ON FUNCTION @extschema@.ledger_head(text, bigint) IS
  'The wallet''s last seq and the hash of its last event, or the hash of the event with the given seq: a checkpoint kept outside proves later that the history up to it was not rewritten';

CREATE FUNCTION @extschema@.ledger_grant(role regrole, wallet_id text, privilege text)
  RETURNS boolean
  LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'ledger_grant';
COMMENT ON FUNCTION @extschema@.ledger_grant(regrole, text, text) IS
  'Lets a role read (''read'') or also spend from (''spend'') a wallet and every wallet under it; false when it already could';

CREATE FUNCTION @extschema@.ledger_revoke(role regrole, wallet_id text, privilege text)
  RETURNS boolean
  LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'ledger_revoke';
COMMENT ON FUNCTION @extschema@.ledger_revoke(regrole, text, text) IS
  'Removes a grant made by ledger_grant; false when there was none';

-- ---------------------------------------------------------------- administration

-- Views for a psql administrator: the wallet tree with its balances, the holds
-- in force, those about to lapse, those lapsed and not yet swept, and spend per
-- day per subtree. A wallet id is a path ('acme/research/agent-7'): each
-- prefix of it is a node of the tree. Amounts count as ledger_balance() counts
-- them: a hold stops counting the instant its expires_at passes, on the
-- ledger's clock (the server's clock plus baseledger.clock_offset), whether or
-- not the sweep has written its expire event yet. They read every wallet
-- with the owner's rights (no role but the owner reads the tables) and are
-- granted to no role: the owner reads them, and an operator may
-- GRANT SELECT on them to a role that already sees every wallet's balance
-- (baseledger_admin, baseledger_auditor) without opening the tables to it.

CREATE VIEW @extschema@.wallet_tree WITH (security_invoker = false) AS
WITH clock AS (
  -- The ledger's clock; an offset set before the module was loaded is still
  -- a placeholder string, where a bare number means milliseconds.
  SELECT pg_catalog.clock_timestamp()
         + CASE WHEN o.v OPERATOR(pg_catalog.~) '^-?[0-9]+$'
                THEN (o.v || ' milliseconds')::interval ELSE o.v::interval END AS now
    FROM (SELECT coalesce(pg_catalog.current_setting('baseledger.clock_offset', true), '0')) AS o(v)
), lapsed AS (
  SELECT r.wallet_id, sum(r.amount) AS amount, count(*) AS holds
    FROM @extschema@.reservations r, clock c
   WHERE r.state = 'active' AND r.expires_at <= c.now
   GROUP BY r.wallet_id
), own AS (
  SELECT w.wallet_id, w.unit, w.balance,
         w.reserved - coalesce(l.amount, 0) AS reserved,
         w.active_reservations - coalesce(l.holds, 0) AS active_reservations,
         w.last_seq, w.last_at,
         pg_catalog.string_to_array(w.wallet_id, '/') AS path
    FROM @extschema@.wallets w LEFT JOIN lapsed l ON l.wallet_id = w.wallet_id
), membership AS (
  -- Each wallet counts in the node of every prefix of its path, itself included.
  SELECT o.*, o.path[1:n.depth] AS node_path
    FROM own o, pg_catalog.generate_series(1, pg_catalog.cardinality(o.path)) AS n(depth)
)
SELECT m.node_path AS path,
       pg_catalog.array_to_string(m.node_path, '/') AS wallet_id,
       CASE WHEN pg_catalog.cardinality(m.node_path) > 1
            THEN pg_catalog.array_to_string(m.node_path[1:pg_catalog.cardinality(m.node_path) - 1], '/')
       END AS parent_id,
       pg_catalog.cardinality(m.node_path) - 1 AS depth,
       pg_catalog.repeat('  ', pg_catalog.cardinality(m.node_path) - 1)
         || m.node_path[pg_catalog.cardinality(m.node_path)] AS tree,
       m.unit,
       bool_or(m.path = m.node_path) AS is_wallet,
       max(m.balance) FILTER (WHERE m.path = m.node_path) AS balance,
       max(m.reserved) FILTER (WHERE m.path = m.node_path) AS reserved,
       max(m.balance - m.reserved) FILTER (WHERE m.path = m.node_path) AS available,
       max(m.active_reservations) FILTER (WHERE m.path = m.node_path) AS active_reservations,
       max(m.last_seq) FILTER (WHERE m.path = m.node_path) AS last_seq,
       max(m.last_at) FILTER (WHERE m.path = m.node_path) AS last_event_at,
       count(*) AS subtree_wallets,
       sum(m.balance) AS subtree_balance,
       sum(m.reserved) AS subtree_reserved,
       sum(m.balance - m.reserved) AS subtree_available,
       sum(m.active_reservations) AS subtree_active_reservations
  FROM membership m
 GROUP BY m.node_path, m.unit
 ORDER BY m.node_path, m.unit;

CREATE VIEW @extschema@.active_reservations WITH (security_invoker = false) AS
WITH clock AS (
  SELECT pg_catalog.clock_timestamp()
         + CASE WHEN o.v OPERATOR(pg_catalog.~) '^-?[0-9]+$'
                THEN (o.v || ' milliseconds')::interval ELSE o.v::interval END AS now
    FROM (SELECT coalesce(pg_catalog.current_setting('baseledger.clock_offset', true), '0')) AS o(v)
)
SELECT r.wallet_id, r.reservation_id, w.unit, r.amount,
       r.expires_at, r.expires_at - c.now AS expires_in,
       c.now - r.created_at AS held_for,
       r.created_at, r.updated_at
  FROM @extschema@.reservations r
  JOIN @extschema@.wallets w ON w.wallet_id = r.wallet_id,
       clock c
 WHERE r.state = 'active' AND r.expires_at > c.now
 ORDER BY r.expires_at, r.wallet_id, r.reservation_id;

CREATE VIEW @extschema@.expiring_reservations WITH (security_invoker = false) AS
SELECT a.*
  FROM @extschema@.active_reservations a
 WHERE a.expires_in <= interval '5 minutes'
 ORDER BY a.expires_at, a.wallet_id, a.reservation_id;

CREATE VIEW @extschema@.lapsed_reservations WITH (security_invoker = false) AS
WITH clock AS (
  SELECT pg_catalog.clock_timestamp()
         + CASE WHEN o.v OPERATOR(pg_catalog.~) '^-?[0-9]+$'
                THEN (o.v || ' milliseconds')::interval ELSE o.v::interval END AS now
    FROM (SELECT coalesce(pg_catalog.current_setting('baseledger.clock_offset', true), '0')) AS o(v)
)
SELECT r.wallet_id, r.reservation_id, w.unit, r.amount,
       r.expires_at, c.now - r.expires_at AS lapsed_for,
       r.created_at, r.updated_at
  FROM @extschema@.reservations r
  JOIN @extschema@.wallets w ON w.wallet_id = r.wallet_id,
       clock c
 WHERE r.state = 'active' AND r.expires_at <= c.now
 ORDER BY r.expires_at, r.wallet_id, r.reservation_id;

CREATE VIEW @extschema@.daily_spend WITH (security_invoker = false) AS
WITH spend AS (
  SELECT e.wallet_id, w.unit, e.kind, e.amount, e.at::date AS day,
         pg_catalog.string_to_array(e.wallet_id, '/') AS path
    FROM @extschema@.events e
    JOIN @extschema@.wallets w ON w.wallet_id = e.wallet_id
   WHERE e.kind IN ('debit', 'settle')
)
SELECT s.day,
       pg_catalog.array_to_string(s.path[1:n.depth], '/') AS wallet_id,
       n.depth - 1 AS depth,
       s.unit,
       sum(s.amount) AS spent,
       coalesce(sum(s.amount) FILTER (WHERE s.kind = 'debit'), 0) AS debited,
       coalesce(sum(s.amount) FILTER (WHERE s.kind = 'settle'), 0) AS captured,
       count(*) FILTER (WHERE s.kind = 'debit') AS debits,
       count(*) FILTER (WHERE s.kind = 'settle') AS settles,
       count(DISTINCT s.wallet_id) AS wallets
  FROM spend s, pg_catalog.generate_series(1, pg_catalog.cardinality(s.path)) AS n(depth)
 GROUP BY s.day, s.path[1:n.depth], n.depth, s.unit
 ORDER BY s.day, s.path[1:n.depth], s.unit;

REVOKE ALL ON @extschema@.wallet_tree, @extschema@.active_reservations,
  @extschema@.expiring_reservations, @extschema@.lapsed_reservations,
  @extschema@.daily_spend FROM PUBLIC;

-- Administration, comments: so that \dn+, \d+, \dT+ and \dv+ explain every object (\df+ already does).

COMMENT ON SCHEMA @extschema@ IS
  'baseledger: reservations, idempotent settlement and expiring holds for AI agent budgets';

COMMENT ON COLUMN @extschema@.wallets.wallet_id IS
  'The wallet''s id: 1-200 characters of letters, digits and ._:@- with / between path segments';
COMMENT ON COLUMN @extschema@.wallets.unit IS
  'What the amounts count (credits, usd_micros, tokens...); fixed when the wallet is created';
COMMENT ON COLUMN @extschema@.wallets.balance IS
  'Credits minus debits minus captured amounts, after the wallet''s last event';
COMMENT ON COLUMN @extschema@.wallets.reserved IS
  'Sum of the holds still active after the last event; may include holds lapsed since then, which reads no longer count (see wallet_tree)';
COMMENT ON COLUMN @extschema@.wallets.active_reservations IS
  'Number of holds still active after the last event, lapsed ones included until their expire event';
COMMENT ON COLUMN @extschema@.wallets.last_seq IS
  'Sequence number of the wallet''s last event; 0 before the first';
COMMENT ON COLUMN @extschema@.wallets.last_at IS
  'Time of the wallet''s last event; the next one is stamped strictly later';
COMMENT ON COLUMN @extschema@.wallets.created_at IS 'When the wallet was created';
COMMENT ON COLUMN @extschema@.wallets.metadata IS
  'The JSON object given to ledger_create_wallet, if any';
COMMENT ON CONSTRAINT wallets_pkey ON @extschema@.wallets IS 'One row per wallet id';
COMMENT ON CONSTRAINT wallets_available_not_negative ON @extschema@.wallets IS
  'Available funds (balance - reserved) never go below zero';
COMMENT ON CONSTRAINT wallets_reserved_not_negative ON @extschema@.wallets IS
  'Reserved funds never go below zero';

COMMENT ON COLUMN @extschema@.events.wallet_id IS 'The wallet the event belongs to';
COMMENT ON COLUMN @extschema@.events.seq IS
  'Position in the wallet''s history: 1, 2, 3... with no gap';
COMMENT ON COLUMN @extschema@.events.kind IS
  'credit, debit, reserve, settle, cancel, extend or expire';
COMMENT ON COLUMN @extschema@.events.amount IS
  'credit/debit/reserve: the amount; settle: what was captured; cancel/expire: what was released; extend: 0';
COMMENT ON COLUMN @extschema@.events.reservation_id IS
  'The hold a reserve, settle, cancel, extend or expire event is about; NULL for credit and debit';
COMMENT ON COLUMN @extschema@.events.idempotency_key IS
  'The caller''s key, unique per wallet: a retry with it replays this event; NULL for expire';
COMMENT ON COLUMN @extschema@.events.fingerprint IS
  'SHA-256 of the request''s arguments: a retry with the same key must match it (else LB007)';
COMMENT ON COLUMN @extschema@.events.balance IS 'The wallet''s balance right after the event';
COMMENT ON COLUMN @extschema@.events.reserved IS
  'The wallet''s reserved funds right after the event';
COMMENT ON COLUMN @extschema@.events.expires_at IS
  'reserve and extend: when the hold lapses; NULL for other kinds';
COMMENT ON COLUMN @extschema@.events.at IS
  'When the event happened on the ledger''s clock; strictly increasing within a wallet';
COMMENT ON COLUMN @extschema@.events.metadata IS 'The JSON object given with the call, if any';
COMMENT ON CONSTRAINT events_pkey ON @extschema@.events IS 'One event per wallet and sequence number';
COMMENT ON CONSTRAINT events_idempotency_key ON @extschema@.events IS
  'The idempotency shield: a key is used once per wallet, for as long as the events live';
COMMENT ON TRIGGER events_no_update_delete ON @extschema@.events IS
  'Refuses UPDATE and DELETE (42501) for every role, also under session_replication_role = replica';
COMMENT ON TRIGGER events_no_truncate ON @extschema@.events IS
  'Refuses TRUNCATE (42501) for every role, also under session_replication_role = replica';

COMMENT ON COLUMN @extschema@.reservations.reservation_id IS 'The hold''s id, returned by ledger_reserve';
COMMENT ON COLUMN @extschema@.reservations.wallet_id IS 'The wallet the funds are held in';
COMMENT ON COLUMN @extschema@.reservations.amount IS 'The amount held';
COMMENT ON COLUMN @extschema@.reservations.captured IS
  'What the settle captured; 0 until then, and for cancelled and expired holds';
COMMENT ON COLUMN @extschema@.reservations.state IS
  'As stored: active until a settle, cancel or expire event; an active hold past expires_at is already expired for every read';
COMMENT ON COLUMN @extschema@.reservations.expires_at IS
  'When the hold lapses; ledger_extend moves it';
COMMENT ON COLUMN @extschema@.reservations.created_at IS 'Time of the reserve event';
COMMENT ON COLUMN @extschema@.reservations.updated_at IS
  'Time of the hold''s last event (reserve, extend, settle, cancel or expire)';
COMMENT ON CONSTRAINT reservations_pkey ON @extschema@.reservations IS
  'One row per hold; every call names the wallet, so lookups and per-wallet scans share this index';
COMMENT ON INDEX @extschema@.reservations_wallet_active IS
  'Active holds by wallet and expiry: finds lapsed holds for writes, reads and the sweep';

COMMENT ON COLUMN @extschema@.ledger_result.wallet_id IS 'The wallet written to';
COMMENT ON COLUMN @extschema@.ledger_result.seq IS 'Sequence number of the event appended (or replayed)';
COMMENT ON COLUMN @extschema@.ledger_result.kind IS 'The event''s kind';
COMMENT ON COLUMN @extschema@.ledger_result.reservation_id IS
  'The hold concerned; NULL for credit and debit';
COMMENT ON COLUMN @extschema@.ledger_result.amount IS
  'The event''s amount: for settle what was captured, for cancel what was released, for extend 0';
COMMENT ON COLUMN @extschema@.ledger_result.balance IS 'The wallet''s balance right after the event';
COMMENT ON COLUMN @extschema@.ledger_result.reserved IS 'Reserved funds right after the event';
COMMENT ON COLUMN @extschema@.ledger_result.available IS 'balance - reserved right after the event';
COMMENT ON COLUMN @extschema@.ledger_result.expires_at IS
  'reserve and extend: when the hold lapses; NULL otherwise';
COMMENT ON COLUMN @extschema@.ledger_result.at IS 'When the event happened on the ledger''s clock';
COMMENT ON COLUMN @extschema@.ledger_result.replayed IS
  'true when a retry found the event written by an earlier call with the same key: nothing was written';

COMMENT ON COLUMN @extschema@.wallet_balance.wallet_id IS 'The wallet';
COMMENT ON COLUMN @extschema@.wallet_balance.unit IS 'What the amounts count';
COMMENT ON COLUMN @extschema@.wallet_balance.balance IS 'Credits minus debits minus captured amounts';
COMMENT ON COLUMN @extschema@.wallet_balance.reserved IS 'Sum of the holds in force at as_of';
COMMENT ON COLUMN @extschema@.wallet_balance.available IS 'balance - reserved: what a new debit or reserve can take';
COMMENT ON COLUMN @extschema@.wallet_balance.active_reservations IS 'Number of holds in force at as_of';
COMMENT ON COLUMN @extschema@.wallet_balance.last_seq IS 'Sequence number of the wallet''s last event';
COMMENT ON COLUMN @extschema@.wallet_balance.as_of IS 'The ledger''s clock at the read';

COMMENT ON COLUMN @extschema@.reservation_status.reservation_id IS 'The hold';
COMMENT ON COLUMN @extschema@.reservation_status.wallet_id IS 'Its wallet';
COMMENT ON COLUMN @extschema@.reservation_status.state IS
  'active, settled, cancelled or expired as of now: a lapsed hold reads expired before any sweep';
COMMENT ON COLUMN @extschema@.reservation_status.amount IS 'The amount held';
COMMENT ON COLUMN @extschema@.reservation_status.captured IS 'What the settle captured; 0 otherwise';
COMMENT ON COLUMN @extschema@.reservation_status.expires_at IS 'When the hold lapses (or lapsed)';
COMMENT ON COLUMN @extschema@.reservation_status.created_at IS 'Time of the reserve event';
COMMENT ON COLUMN @extschema@.reservation_status.updated_at IS 'Time of the hold''s last event';

COMMENT ON VIEW @extschema@.wallet_tree IS
  'Every wallet and every prefix of its path as a tree, one row per node and unit, ordered by path: the wallet''s own funds and its subtree''s totals, counted now';
COMMENT ON COLUMN @extschema@.wallet_tree.path IS 'The node''s path segments; ORDER BY path lists the tree depth first';
COMMENT ON COLUMN @extschema@.wallet_tree.wallet_id IS 'The node: a wallet id, or a prefix shared by wallet ids';
COMMENT ON COLUMN @extschema@.wallet_tree.parent_id IS 'The path one segment up; NULL for a root';
COMMENT ON COLUMN @extschema@.wallet_tree.depth IS 'Number of segments above the node; 0 for a root';
COMMENT ON COLUMN @extschema@.wallet_tree.tree IS 'The node''s last segment, indented by depth, for reading the tree';
COMMENT ON COLUMN @extschema@.wallet_tree.unit IS 'The unit of this row''s amounts: a node with wallets of several units has a row for each';
COMMENT ON COLUMN @extschema@.wallet_tree.is_wallet IS 'true when the node is itself a wallet of this unit; false for a mere prefix';
COMMENT ON COLUMN @extschema@.wallet_tree.balance IS 'The wallet''s own balance; NULL when not a wallet';
COMMENT ON COLUMN @extschema@.wallet_tree.reserved IS 'The wallet''s holds in force now; NULL when not a wallet';
COMMENT ON COLUMN @extschema@.wallet_tree.available IS 'The wallet''s balance - reserved now; NULL when not a wallet';
COMMENT ON COLUMN @extschema@.wallet_tree.active_reservations IS 'The wallet''s holds in force now; NULL when not a wallet';
COMMENT ON COLUMN @extschema@.wallet_tree.last_seq IS 'The wallet''s last sequence number; NULL when not a wallet';
COMMENT ON COLUMN @extschema@.wallet_tree.last_event_at IS 'Time of the wallet''s last event; NULL before the first or when not a wallet';
COMMENT ON COLUMN @extschema@.wallet_tree.subtree_wallets IS 'Wallets of this unit at or under the node';
COMMENT ON COLUMN @extschema@.wallet_tree.subtree_balance IS 'Sum of their balances';
COMMENT ON COLUMN @extschema@.wallet_tree.subtree_reserved IS 'Sum of their holds in force now';
COMMENT ON COLUMN @extschema@.wallet_tree.subtree_available IS 'Sum of their available funds now';
COMMENT ON COLUMN @extschema@.wallet_tree.subtree_active_reservations IS 'Number of their holds in force now';

COMMENT ON VIEW @extschema@.active_reservations IS
  'Holds in force now (active and not yet lapsed), soonest to lapse first';
COMMENT ON COLUMN @extschema@.active_reservations.wallet_id IS 'The wallet the funds are held in';
COMMENT ON COLUMN @extschema@.active_reservations.reservation_id IS 'The hold';
COMMENT ON COLUMN @extschema@.active_reservations.unit IS 'The wallet''s unit';
COMMENT ON COLUMN @extschema@.active_reservations.amount IS 'The amount held';
COMMENT ON COLUMN @extschema@.active_reservations.expires_at IS 'When the hold lapses unless extended';
COMMENT ON COLUMN @extschema@.active_reservations.expires_in IS 'Time left before it lapses';
COMMENT ON COLUMN @extschema@.active_reservations.held_for IS 'Time since the reserve';
COMMENT ON COLUMN @extschema@.active_reservations.created_at IS 'Time of the reserve event';
COMMENT ON COLUMN @extschema@.active_reservations.updated_at IS 'Time of the last reserve or extend: the last heartbeat';

COMMENT ON VIEW @extschema@.expiring_reservations IS
  'Holds in force that lapse within 5 minutes unless extended, soonest first (active_reservations filtered on expires_in)';
COMMENT ON COLUMN @extschema@.expiring_reservations.wallet_id IS 'The wallet the funds are held in';
COMMENT ON COLUMN @extschema@.expiring_reservations.reservation_id IS 'The hold';
COMMENT ON COLUMN @extschema@.expiring_reservations.unit IS 'The wallet''s unit';
COMMENT ON COLUMN @extschema@.expiring_reservations.amount IS 'The amount held';
COMMENT ON COLUMN @extschema@.expiring_reservations.expires_at IS 'When the hold lapses unless extended';
COMMENT ON COLUMN @extschema@.expiring_reservations.expires_in IS 'Time left before it lapses';
COMMENT ON COLUMN @extschema@.expiring_reservations.held_for IS 'Time since the reserve';
COMMENT ON COLUMN @extschema@.expiring_reservations.created_at IS 'Time of the reserve event';
COMMENT ON COLUMN @extschema@.expiring_reservations.updated_at IS 'Time of the last reserve or extend: the last heartbeat';

COMMENT ON VIEW @extschema@.lapsed_reservations IS
  'Holds past expires_at whose expire event is not written yet: the sweep''s backlog. They no longer count; a growing list means ledger_expire() is not running';
COMMENT ON COLUMN @extschema@.lapsed_reservations.wallet_id IS 'The wallet the funds were held in';
COMMENT ON COLUMN @extschema@.lapsed_reservations.reservation_id IS 'The hold';
COMMENT ON COLUMN @extschema@.lapsed_reservations.unit IS 'The wallet''s unit';
COMMENT ON COLUMN @extschema@.lapsed_reservations.amount IS 'The amount that was held, refunded by the expire event';
COMMENT ON COLUMN @extschema@.lapsed_reservations.expires_at IS 'When the hold lapsed';
COMMENT ON COLUMN @extschema@.lapsed_reservations.lapsed_for IS 'Time since it lapsed';
COMMENT ON COLUMN @extschema@.lapsed_reservations.created_at IS 'Time of the reserve event';
COMMENT ON COLUMN @extschema@.lapsed_reservations.updated_at IS 'Time of the last reserve or extend';

COMMENT ON VIEW @extschema@.daily_spend IS
  'Spend (debits plus captured amounts) per day, in the session''s TimeZone, for every wallet subtree: each wallet counts in its own row and in each prefix of its path';
COMMENT ON COLUMN @extschema@.daily_spend.day IS 'The calendar day of the events, in the session''s TimeZone';
COMMENT ON COLUMN @extschema@.daily_spend.wallet_id IS 'The subtree''s root: a wallet id or a prefix shared by wallet ids';
COMMENT ON COLUMN @extschema@.daily_spend.depth IS 'Number of path segments above the subtree''s root; 0 for a root';
COMMENT ON COLUMN @extschema@.daily_spend.unit IS 'The unit of the amounts';
COMMENT ON COLUMN @extschema@.daily_spend.spent IS 'debited + captured';
COMMENT ON COLUMN @extschema@.daily_spend.debited IS 'Sum of the debits';
COMMENT ON COLUMN @extschema@.daily_spend.captured IS 'Sum of the amounts captured by settles';
COMMENT ON COLUMN @extschema@.daily_spend.debits IS 'Number of debits';
COMMENT ON COLUMN @extschema@.daily_spend.settles IS 'Number of settles';
COMMENT ON COLUMN @extschema@.daily_spend.wallets IS 'Number of wallets in the subtree that spent that day';

-- Administration, dump and restore: the ledger's rows are user data, not part of the extension's definition:
-- pg_dump dumps them after CREATE EXTENSION, so a restore brings the money back.

SELECT pg_catalog.pg_extension_config_dump('@extschema@.wallets', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.events', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.reservations', '');

-- ---------------------------------------------------------------- fixes

-- A NULL schedule is refused with 22004, like every NULL required argument
-- (0.1.0 passed it on to pg_cron, which raised XX000).
CREATE OR REPLACE FUNCTION @extschema@.ledger_schedule_expiry(schedule text DEFAULT '* * * * *')
  RETURNS bigint
  LANGUAGE plpgsql VOLATILE
  SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF schedule IS NULL THEN
    RAISE EXCEPTION 'argument "schedule" must not be null' USING ERRCODE = '22004';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_cron') THEN
    RAISE EXCEPTION 'pg_cron is not installed in this database'
      USING ERRCODE = '55000',
            HINT = 'Run CREATE EXTENSION pg_cron in the database named by cron.database_name, or call ledger_expire() from another scheduler.';
  END IF;
  RETURN cron.schedule('baseledger-expire', schedule,
                       'SELECT @extschema@.ledger_expire()');
END
$$;

-- ---------------------------------------------------------------- privileges
-- Last, so that it covers every function the script defines.

-- Nothing is callable by PUBLIC; each role gets what it needs. The functions
-- run as the caller, check the caller's grants, and reach the tables with the
-- extension owner's rights and a fixed search_path (see README, Security).
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA @extschema@ FROM PUBLIC;
GRANT USAGE ON SCHEMA @extschema@ TO baseledger_admin, baseledger_client, baseledger_auditor;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA @extschema@ TO baseledger_admin;
GRANT EXECUTE ON FUNCTION
  @extschema@.ledger_debit(text, bigint, text, jsonb),
  @extschema@.ledger_reserve(text, bigint, interval, text, jsonb),
  @extschema@.ledger_settle(text, uuid, bigint, text, jsonb),
  @extschema@.ledger_cancel(text, uuid, text, jsonb),
  @extschema@.ledger_extend(text, uuid, interval, text),
  @extschema@.ledger_reserve_batch(text[], bigint[], interval[], text[], jsonb[]),
  @extschema@.ledger_settle_batch(text[], uuid[], bigint[], text[], jsonb[]),
  @extschema@.ledger_balance(text),
  @extschema@.ledger_reservation(text, uuid),
  @extschema@.ledger_history(text, bigint, integer),
  @extschema@.ledger_head(text, bigint)
  TO baseledger_client;
GRANT EXECUTE ON FUNCTION
  @extschema@.ledger_balance(text),
  @extschema@.ledger_reservation(text, uuid),
  @extschema@.ledger_history(text, bigint, integer),
  @extschema@.ledger_head(text, bigint),
  @extschema@.ledger_verify(text)
  TO baseledger_auditor;
