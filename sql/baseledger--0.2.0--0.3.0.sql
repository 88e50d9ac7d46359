-- baseledger 0.2.0 -> 0.3.0: budgets for agent fleets.
-- Wallet hierarchy by path (holds, captures and releases at every level),
-- uncapped wallets, credit lines, concurrency caps, calendar period limits,
-- overage at settle, capture on expiry, alerts.
\echo Use "ALTER EXTENSION baseledger UPDATE TO '0.3.0'" to load this file. \quit

-- ---------------------------------------------------------------- policies on wallets

ALTER TABLE @extschema@.wallets
  ADD COLUMN overdraft bigint DEFAULT 0,
  ADD COLUMN max_active integer,
  ADD COLUMN children integer NOT NULL DEFAULT 0,
  ADD COLUMN has_limits boolean NOT NULL DEFAULT false,
  ADD COLUMN has_alerts boolean NOT NULL DEFAULT false,
  DROP CONSTRAINT wallets_available_not_negative,
  -- A capped wallet never goes below its credit line; an uncapped one (no
  -- credit line: NULL) only tracks what its subtree spends. Every CHECK is
  -- evaluated on every write of the row, so this is the only one the policy
  -- adds: the policy columns are checked by the functions that set them.
  ADD CONSTRAINT wallets_available_within_credit_line
    CHECK (balance - reserved >= -overdraft);
COMMENT ON CONSTRAINT wallets_available_within_credit_line ON @extschema@.wallets IS
  'A capped wallet''s available funds never go below minus its credit line';
COMMENT ON COLUMN @extschema@.wallets.overdraft IS
  'Credit line: available may go down to -overdraft; NULL for an uncapped wallet, which has no budget of its own (it tracks spending) and is bound by its ancestors only';
COMMENT ON COLUMN @extschema@.wallets.max_active IS
  'Concurrency cap: at most this many active reservations in the subtree; NULL for none';
COMMENT ON COLUMN @extschema@.wallets.children IS 'Number of direct child wallets';
COMMENT ON COLUMN @extschema@.wallets.has_limits IS 'The wallet has period limits (ledger.limits)';
COMMENT ON COLUMN @extschema@.wallets.has_alerts IS 'The wallet has alert rules (ledger.alert_rules)';

-- A cache for the write path, not part of the projection: no active hold of
-- the wallet's subtree expires before it ('infinity': none is open). Writes
-- look for lapsed holds only once it has passed; NULL means unknown (look).
ALTER TABLE @extschema@.wallets ADD COLUMN next_expiry timestamptz;
COMMENT ON COLUMN @extschema@.wallets.next_expiry IS
  'Write-path cache: no active hold of the subtree expires before this (infinity: none open; NULL: unknown)';

-- The tree a wallet belongs to. Wallets created before 0.3.0 stay roots of
-- their own whatever their ids: their holds were never recorded at any other
-- wallet. From 0.3.0 on, a child is created under its parent and joins its tree.
ALTER TABLE @extschema@.wallets ADD COLUMN root_id text COLLATE "C";
UPDATE @extschema@.wallets SET root_id = wallet_id;
ALTER TABLE @extschema@.wallets ALTER COLUMN root_id SET NOT NULL;
COMMENT ON COLUMN @extschema@.wallets.root_id IS
  'The root of the wallet''s tree; the wallet itself for a root';

-- An ancestor's event names the wallet the call or the hold belongs to.
ALTER TABLE @extschema@.events ADD COLUMN origin_wallet_id text COLLATE "C";
COMMENT ON COLUMN @extschema@.events.origin_wallet_id IS
  'On an ancestor''s event: the wallet whose call or hold it records; NULL on the wallet''s own events';

ALTER TABLE @extschema@.reservations
  ADD COLUMN capture_on_expire boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN @extschema@.reservations.capture_on_expire IS
  'on_expire => ''capture'': expiry charges the hold (for calls known to be billed) instead of refunding it';

ALTER TYPE @extschema@.reservation_status ADD ATTRIBUTE on_expire text;
COMMENT ON COLUMN @extschema@.reservation_status.on_expire IS 'refund or capture';

-- ---------------------------------------------------------------- period limits
-- (No foreign keys between the ledger's tables: pg_dump restores their rows
-- in any order after CREATE EXTENSION.)

CREATE TABLE @extschema@.limits (
  wallet_id    text COLLATE "C" NOT NULL,
  period       text NOT NULL,
  max_amount   bigint,
  max_requests integer,
  CONSTRAINT limits_pkey PRIMARY KEY (wallet_id, period),
  CONSTRAINT limits_period CHECK (period IN ('minute', 'hour', 'day', 'week', 'month')),
  CONSTRAINT limits_max_amount_not_negative CHECK (max_amount >= 0),
  CONSTRAINT limits_max_requests_not_negative CHECK (max_requests >= 0),
  CONSTRAINT limits_bound_something CHECK (max_amount IS NOT NULL OR max_requests IS NOT NULL)
);
COMMENT ON TABLE @extschema@.limits IS
  'Period limits: per wallet and calendar period, the amount and the number of requests it may admit';
COMMENT ON COLUMN @extschema@.limits.wallet_id IS 'The wallet (and so its subtree)';
COMMENT ON COLUMN @extschema@.limits.period IS 'minute, hour, day, week or month, aligned in baseledger.timezone';
COMMENT ON COLUMN @extschema@.limits.max_amount IS 'Held plus captured amount admitted per period; NULL for no bound';
COMMENT ON COLUMN @extschema@.limits.max_requests IS 'Reserves and debits admitted per period; NULL for no bound';

CREATE TABLE @extschema@.limit_usage (
  wallet_id    text COLLATE "C" NOT NULL,
  period       text NOT NULL,
  period_start timestamptz NOT NULL,
  amount       bigint NOT NULL DEFAULT 0,
  requests     bigint NOT NULL DEFAULT 0,
  CONSTRAINT limit_usage_pkey PRIMARY KEY (wallet_id, period, period_start)
);
COMMENT ON TABLE @extschema@.limit_usage IS
  'What each limited wallet admitted per period; past periods are pruned by ledger_expire()';
COMMENT ON COLUMN @extschema@.limit_usage.wallet_id IS 'The limited wallet';
COMMENT ON COLUMN @extschema@.limit_usage.period IS 'The limit''s period';
COMMENT ON COLUMN @extschema@.limit_usage.period_start IS 'Start of the calendar period';
COMMENT ON COLUMN @extschema@.limit_usage.amount IS 'Held and captured amount admitted in the period (releases give back)';
COMMENT ON COLUMN @extschema@.limit_usage.requests IS 'Reserves and debits admitted in the period';

-- ---------------------------------------------------------------- alerts

CREATE TABLE @extschema@.alert_rules (
  wallet_id text COLLATE "C" NOT NULL,
  kind      text NOT NULL,
  period    text NOT NULL DEFAULT '',
  threshold bigint NOT NULL,
  armed     boolean NOT NULL DEFAULT true,
  CONSTRAINT alert_rules_pkey PRIMARY KEY (wallet_id, kind, period),
  CONSTRAINT alert_rules_kind CHECK (kind IN ('available_below', 'period_used_pct')),
  CONSTRAINT alert_rules_period CHECK (period IN ('', 'minute', 'hour', 'day', 'week', 'month'))
);
COMMENT ON TABLE @extschema@.alert_rules IS
  'Alert thresholds: each fires once per crossing and re-arms when the value goes back';
COMMENT ON COLUMN @extschema@.alert_rules.wallet_id IS 'The watched wallet';
COMMENT ON COLUMN @extschema@.alert_rules.kind IS 'available_below (an amount) or period_used_pct (a percentage of a period''s max_amount)';
COMMENT ON COLUMN @extschema@.alert_rules.period IS 'The period of a period_used_pct alert; empty for available_below';
COMMENT ON COLUMN @extschema@.alert_rules.threshold IS 'The amount, or the percentage';
COMMENT ON COLUMN @extschema@.alert_rules.armed IS 'false after firing, until the value goes back';

CREATE TABLE @extschema@.alerts (
  alert_id  bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT alerts_pkey PRIMARY KEY,
  wallet_id text COLLATE "C" NOT NULL,
  kind      text NOT NULL,
  period    text,
  threshold bigint NOT NULL,
  value     bigint NOT NULL,
  at        timestamptz NOT NULL
);
CREATE INDEX alerts_wallet ON @extschema@.alerts (wallet_id, alert_id);
COMMENT ON TABLE @extschema@.alerts IS
  'Every alert fired, also sent with NOTIFY baseledger_alerts: poll it so that none is lost when no one listened';
COMMENT ON COLUMN @extschema@.alerts.alert_id IS 'Increasing id, for paging';
COMMENT ON COLUMN @extschema@.alerts.wallet_id IS 'The wallet whose threshold was crossed';
COMMENT ON COLUMN @extschema@.alerts.kind IS 'available_below or period_used_pct';
COMMENT ON COLUMN @extschema@.alerts.period IS 'The period of a period_used_pct alert';
COMMENT ON COLUMN @extschema@.alerts.threshold IS 'The threshold crossed';
COMMENT ON COLUMN @extschema@.alerts.value IS 'The value that crossed it: available, or the percentage used';
COMMENT ON COLUMN @extschema@.alerts.at IS 'The ledger time of the write that crossed it';

COMMENT ON CONSTRAINT limits_pkey ON @extschema@.limits IS 'One limit per wallet and period';
COMMENT ON CONSTRAINT limits_period ON @extschema@.limits IS 'The calendar periods a limit can have';
COMMENT ON CONSTRAINT limits_max_amount_not_negative ON @extschema@.limits IS 'An amount bound is not negative';
COMMENT ON CONSTRAINT limits_max_requests_not_negative ON @extschema@.limits IS 'A request bound is not negative';
COMMENT ON CONSTRAINT limits_bound_something ON @extschema@.limits IS 'A limit bounds the amount, the requests or both';
COMMENT ON CONSTRAINT limit_usage_pkey ON @extschema@.limit_usage IS 'One row per wallet, period and period start';
COMMENT ON CONSTRAINT alert_rules_pkey ON @extschema@.alert_rules IS 'One rule per wallet, kind and period';
COMMENT ON CONSTRAINT alert_rules_kind ON @extschema@.alert_rules IS 'The kinds of alert';
COMMENT ON CONSTRAINT alert_rules_period ON @extschema@.alert_rules IS 'A period, or empty for available_below';
COMMENT ON CONSTRAINT alerts_pkey ON @extschema@.alerts IS 'Alerts are numbered in the order they fired';
COMMENT ON INDEX @extschema@.alerts_wallet IS 'Pages a wallet''s alerts';

REVOKE ALL ON @extschema@.limits, @extschema@.limit_usage, @extschema@.alert_rules,
  @extschema@.alerts FROM PUBLIC;

SELECT pg_catalog.pg_extension_config_dump('@extschema@.limits', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.limit_usage', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.alert_rules', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.alerts', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.alerts_alert_id_seq', '');

-- ---------------------------------------------------------------- functions

CREATE TYPE @extschema@.wallet_policy AS (
  wallet_id  text,
  capped     boolean,
  overdraft  bigint,
  max_active integer,
  limits     jsonb
);
COMMENT ON TYPE @extschema@.wallet_policy IS
  'What bounds a wallet besides its balance, with the use of its limits in the current periods';
COMMENT ON COLUMN @extschema@.wallet_policy.wallet_id IS 'The wallet';
COMMENT ON COLUMN @extschema@.wallet_policy.capped IS 'false: no budget of its own, only its ancestors bound it';
COMMENT ON COLUMN @extschema@.wallet_policy.overdraft IS 'Credit line: available may go down to -overdraft';
COMMENT ON COLUMN @extschema@.wallet_policy.max_active IS 'Concurrency cap of the subtree; NULL for none';
COMMENT ON COLUMN @extschema@.wallet_policy.limits IS 'Period limits with their use in the current periods (period, max_amount, max_requests, used_amount, used_requests, period_start)';

DROP FUNCTION @extschema@.ledger_create_wallet(text, text, jsonb);
CREATE FUNCTION @extschema@.ledger_create_wallet(
  wallet_id text, unit text DEFAULT 'credits', metadata jsonb DEFAULT NULL,
  capped boolean DEFAULT true)
  RETURNS @extschema@.wallet_balance
  LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'ledger_create_wallet';
COMMENT ON FUNCTION @extschema@.ledger_create_wallet(text, text, jsonb, boolean) IS
  'Creates a wallet (a child under an existing parent), or returns it unchanged when it exists alike';

DROP FUNCTION @extschema@.ledger_reserve(text, bigint, interval, text, jsonb);
CREATE FUNCTION @extschema@.ledger_reserve(
  wallet_id text, amount bigint, ttl interval, idempotency_key text, metadata jsonb DEFAULT NULL,
  on_expire text DEFAULT 'refund')
  RETURNS @extschema@.ledger_result
  LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'ledger_reserve';
COMMENT ON FUNCTION @extschema@.ledger_reserve(text, bigint, interval, text, jsonb, text) IS
  'Holds funds in the wallet and every ancestor before a call; the hold lapses after ttl (refunded, or captured with on_expire => ''capture'')';

DROP FUNCTION @extschema@.ledger_settle(text, uuid, bigint, text, jsonb);
CREATE FUNCTION @extschema@.ledger_settle(
  wallet_id text, reservation_id uuid, amount bigint, idempotency_key text,
  metadata jsonb DEFAULT NULL, allow_overage boolean DEFAULT false)
  RETURNS @extschema@.ledger_result
  LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'ledger_settle';
COMMENT ON FUNCTION @extschema@.ledger_settle(text, uuid, bigint, text, jsonb, boolean) IS
  'Captures the real cost of a call from its hold and releases the rest; with allow_overage, more than was held when available funds cover it';

CREATE FUNCTION @extschema@.ledger_set_overdraft(wallet_id text, amount bigint)
  RETURNS @extschema@.wallet_policy
  LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'ledger_set_overdraft';
COMMENT ON FUNCTION @extschema@.ledger_set_overdraft(text, bigint) IS
  'Sets a wallet''s credit line: available may go down to -amount (0 removes it)';

CREATE FUNCTION @extschema@.ledger_set_concurrency(wallet_id text, max_active integer)
  RETURNS @extschema@.wallet_policy
  LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'ledger_set_concurrency';
COMMENT ON FUNCTION @extschema@.ledger_set_concurrency(text, integer) IS
  'Caps the active reservations in a wallet''s subtree (NULL removes the cap)';

CREATE FUNCTION @extschema@.ledger_set_limit(
  wallet_id text, period text, max_amount bigint, max_requests integer)
  RETURNS @extschema@.wallet_policy
  LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'ledger_set_limit';
COMMENT ON FUNCTION @extschema@.ledger_set_limit(text, text, bigint, integer) IS
  'Sets a calendar period limit (minute, hour, day, week, month) on amount and requests; both NULL removes it';

CREATE FUNCTION @extschema@.ledger_policy(wallet_id text)
  RETURNS @extschema@.wallet_policy
  LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'ledger_policy';
COMMENT ON FUNCTION @extschema@.ledger_policy(text) IS
  'A wallet''s policy: capped, credit line, concurrency cap, and its limits with their use now';

CREATE FUNCTION @extschema@.ledger_set_alert(
  wallet_id text, kind text, threshold bigint, period text DEFAULT NULL)
  RETURNS void
  LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'ledger_set_alert';
COMMENT ON FUNCTION @extschema@.ledger_set_alert(text, text, bigint, text) IS
  'Sets an alert: available_below (an amount) or period_used_pct (a percentage of a period limit); NULL threshold removes it';

CREATE FUNCTION @extschema@.ledger_alerts(
  wallet_id text DEFAULT NULL, after_id bigint DEFAULT 0, max_rows integer DEFAULT 100)
  RETURNS TABLE (alert_id bigint, wallet_id text, kind text, period text, threshold bigint,
                 value bigint, at timestamptz)
  LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'ledger_alerts';
COMMENT ON FUNCTION @extschema@.ledger_alerts(text, bigint, integer) IS
  'A page of fired alerts after after_id: of one wallet''s subtree, or of every wallet';

-- ---------------------------------------------------------------- privileges

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA @extschema@ FROM PUBLIC;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA @extschema@ TO baseledger_admin;
GRANT EXECUTE ON FUNCTION
  @extschema@.ledger_reserve(text, bigint, interval, text, jsonb, text),
  @extschema@.ledger_settle(text, uuid, bigint, text, jsonb, boolean),
  @extschema@.ledger_policy(text),
  @extschema@.ledger_alerts(text, bigint, integer)
  TO baseledger_client;
GRANT EXECUTE ON FUNCTION
  @extschema@.ledger_policy(text),
  @extschema@.ledger_alerts(text, bigint, integer)
  TO baseledger_auditor;
GRANT SELECT ON @extschema@.alerts TO baseledger_admin, baseledger_auditor;

-- ---------------------------------------------------------------- administration

-- A wallet in a tree already counts its subtree's holds and spending, so a
-- node's subtree figures add only the top-most wallets at or under it (a
-- wallet whose parent is not under the node: a root, or a wallet created
-- before 0.3.0, whose holds were never recorded above it). Lapsed holds no
-- longer count at their owner nor at any ancestor.
CREATE OR REPLACE VIEW @extschema@.wallet_tree WITH (security_invoker = false) AS
WITH clock AS (
  SELECT pg_catalog.clock_timestamp()
         + CASE WHEN o.v OPERATOR(pg_catalog.~) '^-?[0-9]+$'
                THEN (o.v || ' milliseconds')::interval ELSE o.v::interval END AS now
    FROM (SELECT coalesce(pg_catalog.current_setting('baseledger.clock_offset', true), '0')) AS o(v)
), lapsed AS (
  SELECT w.wallet_id, sum(r.amount) AS amount, count(*) AS holds
    FROM @extschema@.wallets w
    JOIN @extschema@.wallets d
      ON d.wallet_id = w.wallet_id
      OR (d.root_id = w.root_id AND d.wallet_id >= w.wallet_id || '/'
          AND d.wallet_id < w.wallet_id || '0')
    JOIN @extschema@.reservations r ON r.wallet_id = d.wallet_id, clock c
   WHERE r.state = 'active' AND r.expires_at <= c.now
   GROUP BY w.wallet_id
), own AS (
  SELECT w.wallet_id, w.unit, w.balance,
         w.reserved - coalesce(l.amount, 0) AS reserved,
         w.active_reservations - coalesce(l.holds, 0) AS active_reservations,
         w.last_seq, w.last_at,
         pg_catalog.string_to_array(w.wallet_id, '/') AS path,
         CASE WHEN w.root_id = w.wallet_id THEN 0
              ELSE pg_catalog.cardinality(pg_catalog.string_to_array(w.wallet_id, '/')) - 1
         END AS parent_depth
    FROM @extschema@.wallets w LEFT JOIN lapsed l ON l.wallet_id = w.wallet_id
), membership AS (
  SELECT o.*, o.path[1:n.depth] AS node_path, o.parent_depth < n.depth AS top
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
       coalesce(sum(m.balance) FILTER (WHERE m.top), 0) AS subtree_balance,
       coalesce(sum(m.reserved) FILTER (WHERE m.top), 0) AS subtree_reserved,
       coalesce(sum(m.balance - m.reserved) FILTER (WHERE m.top), 0) AS subtree_available,
       coalesce(sum(m.active_reservations) FILTER (WHERE m.top), 0) AS subtree_active_reservations
  FROM membership m
 GROUP BY m.node_path, m.unit
 ORDER BY m.node_path, m.unit;
COMMENT ON COLUMN @extschema@.wallet_tree.subtree_balance IS
  'Balance of the subtree: the sum over its top-most wallets, as a wallet in a tree already counts its descendants';
COMMENT ON COLUMN @extschema@.wallet_tree.subtree_reserved IS 'Holds in force now in the subtree (top-most wallets)';
COMMENT ON COLUMN @extschema@.wallet_tree.subtree_available IS 'Available funds now of the subtree (top-most wallets)';
COMMENT ON COLUMN @extschema@.wallet_tree.subtree_active_reservations IS 'Holds in force now in the subtree';

-- Spend per day counts each debit and capture once per subtree: at the
-- wallet that made it, not again at the ancestors that recorded it. An
-- expiry that captured its hold (on_expire => 'capture') is a capture.
CREATE OR REPLACE VIEW @extschema@.daily_spend WITH (security_invoker = false) AS
WITH spend AS (
  SELECT e.wallet_id, w.unit,
         CASE e.kind WHEN 'expire' THEN 'settle'::@extschema@.event_kind ELSE e.kind END AS kind,
         e.amount, e.at::date AS day,
         pg_catalog.string_to_array(e.wallet_id, '/') AS path
    FROM @extschema@.events e
    JOIN @extschema@.wallets w ON w.wallet_id = e.wallet_id
   WHERE e.origin_wallet_id IS NULL
     AND (e.kind IN ('debit', 'settle')
          OR (e.kind = 'expire' AND EXISTS (
                SELECT 1 FROM @extschema@.reservations r
                 WHERE r.wallet_id = e.wallet_id AND r.reservation_id = e.reservation_id
                   AND r.capture_on_expire)))
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
COMMENT ON COLUMN @extschema@.daily_spend.captured IS
  'Sum of the amounts captured by settles and by expiries of holds made with on_expire => ''capture''';
COMMENT ON COLUMN @extschema@.daily_spend.settles IS 'Number of settles and capturing expiries';
