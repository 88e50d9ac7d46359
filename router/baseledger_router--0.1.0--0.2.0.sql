-- baseledger_router 0.1.0 -> 0.2.0: the API of baseledger 0.3.0 (budgets for
-- agent fleets: wallet trees, policies, overage, capture on expiry, alerts).
--
-- Every shard must run baseledger 0.3.0 before the router is updated: the
-- changed functions forward their new arguments, which a 0.2.0 shard does not
-- take. The hierarchy needs nothing from the router: a wallet tree is one
-- tenant (its root segment), so it already lives on one shard, where its
-- locks, limits and events are kept.

\echo Use "ALTER EXTENSION baseledger_router UPDATE TO '0.2.0'" to load this file. \quit

-- ---------------------------------------------------------------- result types

-- ledger_reservation() shows what a hold does when it lapses.
ALTER TYPE @extschema@.reservation_status ADD ATTRIBUTE on_expire text;

CREATE TYPE @extschema@.wallet_policy AS (
  wallet_id  text,
  capped     boolean,
  overdraft  bigint,
  max_active integer,
  limits     jsonb
);
COMMENT ON TYPE @extschema@.wallet_policy IS
  'A wallet''s policies: capped, overdraft, concurrency cap, and its period limits with their current use';

-- ---------------------------------------------------------------- changed signatures
-- A new argument with a default: the old function is replaced, so that a call
-- without the argument keeps working and means what it meant.

DROP FUNCTION @extschema@.ledger_create_wallet(text, text, jsonb);
CREATE FUNCTION @extschema@.ledger_create_wallet(
  wallet_id text, unit text DEFAULT 'credits', metadata jsonb DEFAULT NULL,
  capped boolean DEFAULT true)
  RETURNS @extschema@.wallet_balance
  LANGUAGE plproxy VOLATILE AS $$
  CLUSTER 'baseledger';
  RUN ON hashtext(coalesce(split_part(wallet_id, '/', 1), ''));
$$;
COMMENT ON FUNCTION @extschema@.ledger_create_wallet(text, text, jsonb, boolean) IS
  'Creates a wallet (under its parent, on its tenant''s shard), or returns it unchanged when it exists alike';

DROP FUNCTION @extschema@.ledger_reserve(text, bigint, interval, text, jsonb);
CREATE FUNCTION @extschema@.ledger_reserve(
  wallet_id text, amount bigint, ttl interval, idempotency_key text, metadata jsonb DEFAULT NULL,
  on_expire text DEFAULT 'refund')
  RETURNS @extschema@.ledger_result
  LANGUAGE plproxy VOLATILE AS $$
  CLUSTER 'baseledger';
  RUN ON hashtext(coalesce(split_part(wallet_id, '/', 1), ''));
$$;
COMMENT ON FUNCTION @extschema@.ledger_reserve(text, bigint, interval, text, jsonb, text) IS
  'Holds funds before a call at the wallet and every ancestor; the hold lapses after ttl (on the wallet''s shard)';

DROP FUNCTION @extschema@.ledger_settle(text, uuid, bigint, text, jsonb);
CREATE FUNCTION @extschema@.ledger_settle(
  wallet_id text, reservation_id uuid, amount bigint, idempotency_key text,
  metadata jsonb DEFAULT NULL, allow_overage boolean DEFAULT false)
  RETURNS @extschema@.ledger_result
  LANGUAGE plproxy VOLATILE AS $$
  CLUSTER 'baseledger';
  RUN ON hashtext(coalesce(split_part(wallet_id, '/', 1), ''));
$$;
COMMENT ON FUNCTION @extschema@.ledger_settle(text, uuid, bigint, text, jsonb, boolean) IS
  'Captures the real cost of a call from its hold (more with allow_overage) and releases the rest (on the wallet''s shard)';

-- ---------------------------------------------------------------- policies

CREATE FUNCTION @extschema@.ledger_set_overdraft(wallet_id text, amount bigint)
  RETURNS @extschema@.wallet_policy
  LANGUAGE plproxy VOLATILE AS $$
  CLUSTER 'baseledger';
  RUN ON hashtext(coalesce(split_part(wallet_id, '/', 1), ''));
$$;
COMMENT ON FUNCTION @extschema@.ledger_set_overdraft(text, bigint) IS
  'Sets the wallet''s credit line (available may go down to -amount), on its shard';

CREATE FUNCTION @extschema@.ledger_set_concurrency(wallet_id text, max_active integer)
  RETURNS @extschema@.wallet_policy
  LANGUAGE plproxy VOLATILE AS $$
  CLUSTER 'baseledger';
  RUN ON hashtext(coalesce(split_part(wallet_id, '/', 1), ''));
$$;
COMMENT ON FUNCTION @extschema@.ledger_set_concurrency(text, integer) IS
  'Caps the active reservations of the wallet''s subtree (NULL removes the cap), on its shard';

CREATE FUNCTION @extschema@.ledger_set_limit(
  wallet_id text, period text, max_amount bigint, max_requests integer)
  RETURNS @extschema@.wallet_policy
  LANGUAGE plproxy VOLATILE AS $$
  CLUSTER 'baseledger';
  RUN ON hashtext(coalesce(split_part(wallet_id, '/', 1), ''));
$$;
COMMENT ON FUNCTION @extschema@.ledger_set_limit(text, text, bigint, integer) IS
  'Sets the wallet''s amount and request limit for a calendar period (both NULL removes it), on its shard';

CREATE FUNCTION @extschema@.ledger_policy(wallet_id text)
  RETURNS @extschema@.wallet_policy
  LANGUAGE plproxy VOLATILE AS $$
  CLUSTER 'baseledger';
  RUN ON hashtext(coalesce(split_part(wallet_id, '/', 1), ''));
$$;
COMMENT ON FUNCTION @extschema@.ledger_policy(text) IS
  'The wallet''s policies and the use of its current periods, from its shard';

-- ---------------------------------------------------------------- alerts

CREATE FUNCTION @extschema@.ledger_set_alert(
  wallet_id text, kind text, threshold bigint, period text DEFAULT NULL)
  RETURNS void
  LANGUAGE plproxy VOLATILE AS $$
  CLUSTER 'baseledger';
  RUN ON hashtext(coalesce(split_part(wallet_id, '/', 1), ''));
$$;
COMMENT ON FUNCTION @extschema@.ledger_set_alert(text, text, bigint, text) IS
  'Sets (threshold NULL: removes) an alert of the wallet, on its shard';

CREATE FUNCTION @extschema@.ledger_alerts_wallet(wallet_id text, after_id bigint, max_rows integer)
  RETURNS TABLE (alert_id bigint, wallet_id text, kind text, period text, threshold bigint,
                 value bigint, at timestamptz)
  LANGUAGE plproxy VOLATILE AS $$
  CLUSTER 'baseledger';
  RUN ON hashtext(coalesce(split_part(wallet_id, '/', 1), ''));
  TARGET ledger.ledger_alerts;
$$;
COMMENT ON FUNCTION @extschema@.ledger_alerts_wallet(text, bigint, integer) IS
  'ledger_alerts(wallet_id, after_id, max_rows) on the wallet''s partition';

CREATE FUNCTION @extschema@.ledger_alerts_partitions(after_id bigint, max_rows integer)
  RETURNS TABLE (alert_id bigint, wallet_id text, kind text, period text, threshold bigint,
                 value bigint, at timestamptz)
  LANGUAGE plproxy VOLATILE AS $$
  CLUSTER 'baseledger';
  RUN ON ALL;
  SELECT a.alert_id, a.wallet_id, a.kind, a.period, a.threshold, a.value, a.at
    FROM ledger.ledger_alerts(NULL::text, after_id, max_rows) a;
$$;
COMMENT ON FUNCTION @extschema@.ledger_alerts_partitions(bigint, integer) IS
  'ledger_alerts(NULL, after_id, max_rows) on every partition: each shard''s page, one after the other';

-- With a wallet: its shard's page, as the shard orders it. Without one: every
-- shard's page (alert ids are each shard's own, so after_id is compared with
-- each shard's ids), merged by time then id, and cut to max_rows. A max_rows
-- the shards refuse reaches them unchanged (no LIMIT of ours runs first), so
-- the SQLSTATE is theirs. (SQL, not PL/pgSQL: the argument and a result
-- column share the name wallet_id.)
CREATE FUNCTION @extschema@.ledger_alerts(
  wallet_id text DEFAULT NULL, after_id bigint DEFAULT 0, max_rows integer DEFAULT 100)
  RETURNS TABLE (alert_id bigint, wallet_id text, kind text, period text, threshold bigint,
                 value bigint, at timestamptz)
  LANGUAGE sql VOLATILE
  SET search_path = pg_catalog, pg_temp
AS $$
  SELECT * FROM @extschema@.ledger_alerts_wallet($1, $2, $3) WHERE $1 IS NOT NULL
  UNION ALL
  (SELECT * FROM @extschema@.ledger_alerts_partitions($2, $3) a WHERE $1 IS NULL
    ORDER BY a.at, a.alert_id
    LIMIT CASE WHEN $3 > 0 THEN $3 END)
$$;
COMMENT ON FUNCTION @extschema@.ledger_alerts(text, bigint, integer) IS
  'Alerts of one wallet (from its shard), or of every shard merged by time (after_id is per shard)';

-- ---------------------------------------------------------------- privileges

-- As in 0.1.0: PUBLIC may execute nothing.
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA @extschema@ FROM PUBLIC;
