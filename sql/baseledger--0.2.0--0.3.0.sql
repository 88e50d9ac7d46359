-- baseledger 0.2.0 -> 0.3.0: budgets for agent fleets.
-- Wallet hierarchy by path (holds, captures and releases at every level),
-- uncapped wallets, credit lines, concurrency caps, calendar period limits,
-- overage at settle, capture on expiry, alerts.
\echo Use "ALTER EXTENSION baseledger UPDATE TO '0.3.0'" to load this file. \quit

-- ---------------------------------------------------------------- policies on wallets

ALTER TABLE @extschema@.wallets
  ADD COLUMN capped boolean NOT NULL DEFAULT true,
  ADD COLUMN overdraft bigint NOT NULL DEFAULT 0,
  ADD COLUMN max_active integer,
  ADD COLUMN children integer NOT NULL DEFAULT 0,
  ADD COLUMN has_limits boolean NOT NULL DEFAULT false,
  ADD COLUMN has_alerts boolean NOT NULL DEFAULT false,
  ADD CONSTRAINT wallets_overdraft_not_negative CHECK (overdraft >= 0),
  ADD CONSTRAINT wallets_max_active_not_negative CHECK (max_active >= 0),
  DROP CONSTRAINT wallets_available_not_negative,
  -- A capped wallet never goes below its credit line; an uncapped one only
  -- tracks what its subtree spends.
  ADD CONSTRAINT wallets_available_within_credit_line
    CHECK (NOT capped OR balance - reserved >= -overdraft);
COMMENT ON COLUMN @extschema@.wallets.capped IS
  'false: the wallet has no budget of its own (it tracks spending) and only its ancestors bound it';
COMMENT ON COLUMN @extschema@.wallets.overdraft IS
  'Credit line: available may go down to -overdraft';
COMMENT ON COLUMN @extschema@.wallets.max_active IS
  'Concurrency cap: at most this many active reservations in the subtree; NULL for none';
COMMENT ON COLUMN @extschema@.wallets.children IS 'Number of direct child wallets';
COMMENT ON COLUMN @extschema@.wallets.has_limits IS 'The wallet has period limits (ledger.limits)';
COMMENT ON COLUMN @extschema@.wallets.has_alerts IS 'The wallet has alert rules (ledger.alert_rules)';

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
  ADD COLUMN on_expire text NOT NULL DEFAULT 'refund',
  ADD CONSTRAINT reservations_on_expire CHECK (on_expire IN ('refund', 'capture'));
COMMENT ON COLUMN @extschema@.reservations.on_expire IS
  'What expiry does: refund the hold (default), or capture it (for calls known to be billed)';

ALTER TYPE @extschema@.reservation_status ADD ATTRIBUTE on_expire text;
COMMENT ON COLUMN @extschema@.reservation_status.on_expire IS 'refund or capture';

-- ---------------------------------------------------------------- period limits
-- (No foreign keys between the ledger's tables: pg_dump restores their rows
-- in any order after CREATE EXTENSION.)

CREATE TABLE @extschema@.limits (
  wallet_id    text COLLATE "C" NOT NULL,
  period       text NOT NULL CHECK (period IN ('minute', 'hour', 'day', 'week', 'month')),
  max_amount   bigint CHECK (max_amount >= 0),
  max_requests integer CHECK (max_requests >= 0),
  PRIMARY KEY (wallet_id, period),
  CHECK (max_amount IS NOT NULL OR max_requests IS NOT NULL)
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
  PRIMARY KEY (wallet_id, period, period_start)
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
  kind      text NOT NULL CHECK (kind IN ('available_below', 'period_used_pct')),
  period    text NOT NULL DEFAULT '' CHECK (period IN ('', 'minute', 'hour', 'day', 'week', 'month')),
  threshold bigint NOT NULL,
  armed     boolean NOT NULL DEFAULT true,
  PRIMARY KEY (wallet_id, kind, period)
);
COMMENT ON TABLE @extschema@.alert_rules IS
  'Alert thresholds: each fires once per crossing and re-arms when the value goes back';
COMMENT ON COLUMN @extschema@.alert_rules.wallet_id IS 'The watched wallet';
COMMENT ON COLUMN @extschema@.alert_rules.kind IS 'available_below (an amount) or period_used_pct (a percentage of a period''s max_amount)';
COMMENT ON COLUMN @extschema@.alert_rules.period IS 'The period of a period_used_pct alert; empty for available_below';
COMMENT ON COLUMN @extschema@.alert_rules.threshold IS 'The amount, or the percentage';
COMMENT ON COLUMN @extschema@.alert_rules.armed IS 'false after firing, until the value goes back';

CREATE TABLE @extschema@.alerts (
  alert_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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

REVOKE ALL ON @extschema@.limits, @extschema@.limit_usage, @extschema@.alert_rules,
  @extschema@.alerts FROM PUBLIC;

SELECT pg_catalog.pg_extension_config_dump('@extschema@.limits', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.limit_usage', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.alert_rules', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.alerts', '');

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
