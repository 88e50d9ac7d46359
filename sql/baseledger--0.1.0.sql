-- baseledger 0.1.0: schema, types and functions. All ledger logic is in the
-- C++ module; this script only declares.

\echo Use "CREATE EXTENSION baseledger" to load this file. \quit

-- ---------------------------------------------------------------- types

CREATE TYPE @extschema@.event_kind AS ENUM
  ('credit', 'debit', 'reserve', 'settle', 'cancel', 'extend', 'expire');
COMMENT ON TYPE @extschema@.event_kind IS 'What an event did to its wallet';

CREATE TYPE @extschema@.reservation_state AS ENUM ('active', 'settled', 'cancelled', 'expired');
COMMENT ON TYPE @extschema@.reservation_state IS 'Lifecycle state of a hold';

CREATE TYPE @extschema@.ledger_result AS (
  wallet_id      text,
  seq            bigint,
  kind           text,
  reservation_id uuid,
  amount         bigint,
  balance        bigint,
  reserved       bigint,
  available      bigint,
  expires_at     timestamptz,
  at             timestamptz,
  replayed       boolean
);
COMMENT ON TYPE @extschema@.ledger_result IS
  'Result of a write: the event it appended (or, with replayed, the one a retry found)';

CREATE TYPE @extschema@.wallet_balance AS (
  wallet_id           text,
  unit                text,
  balance             bigint,
  reserved            bigint,
  available           bigint,
  active_reservations integer,
  last_seq            bigint,
  as_of               timestamptz
);
COMMENT ON TYPE @extschema@.wallet_balance IS 'A wallet''s balance, as of the time of the read';

CREATE TYPE @extschema@.reservation_status AS (
  reservation_id uuid,
  wallet_id      text,
  state          text,
  amount         bigint,
  captured       bigint,
  expires_at     timestamptz,
  created_at     timestamptz,
  updated_at     timestamptz
);
COMMENT ON TYPE @extschema@.reservation_status IS 'A reservation as a reader sees it now';

-- ---------------------------------------------------------------- tables

-- The projection: one row per wallet, updated by every event.
-- Ids and keys compare byte by byte (COLLATE "C"): exact, and cheap in indexes.
CREATE TABLE @extschema@.wallets (
  wallet_id           text COLLATE "C" PRIMARY KEY,
  unit                text        NOT NULL,
  balance             bigint      NOT NULL DEFAULT 0,
  reserved            bigint      NOT NULL DEFAULT 0,
  active_reservations integer     NOT NULL DEFAULT 0,
  last_seq            bigint      NOT NULL DEFAULT 0,
  last_at             timestamptz,
  created_at          timestamptz NOT NULL,
  metadata            jsonb,
  CONSTRAINT wallets_available_not_negative CHECK (balance - reserved >= 0),
  CONSTRAINT wallets_reserved_not_negative CHECK (reserved >= 0)
);
COMMENT ON TABLE @extschema@.wallets IS
  'Projection of the events: each wallet''s balance and holds after its last event';

-- The audit trail: append-only, one row per event, seq 1, 2, 3... per wallet.
CREATE TABLE @extschema@.events (
  wallet_id       text COLLATE "C"      NOT NULL,
  seq             bigint                NOT NULL,
  kind            @extschema@.event_kind NOT NULL,
  amount          bigint                NOT NULL,
  reservation_id  uuid,
  idempotency_key text COLLATE "C",
  fingerprint     bytea,
  balance         bigint                NOT NULL,
  reserved        bigint                NOT NULL,
  expires_at      timestamptz,
  at              timestamptz           NOT NULL,
  metadata        jsonb,
  PRIMARY KEY (wallet_id, seq),
  -- The idempotency shield: a key is used once per wallet, for as long as the events live.
  CONSTRAINT events_idempotency_key UNIQUE (wallet_id, idempotency_key)
);
COMMENT ON TABLE @extschema@.events IS
  'Append-only event log: the audit trail from which every balance can be replayed';

-- Holds: one row per reservation, its state kept current by the events.
CREATE TABLE @extschema@.reservations (
  reservation_id uuid                          NOT NULL,
  wallet_id      text COLLATE "C"              NOT NULL,
  amount         bigint                        NOT NULL,
  captured       bigint                        NOT NULL DEFAULT 0,
  state          @extschema@.reservation_state NOT NULL,
  expires_at     timestamptz                   NOT NULL,
  created_at     timestamptz                   NOT NULL,
  updated_at     timestamptz                   NOT NULL,
  -- Every call names the wallet, so lookups by id and per-wallet scans share this index.
  PRIMARY KEY (wallet_id, reservation_id)
);
COMMENT ON TABLE @extschema@.reservations IS 'Funds set aside before a call, until settled, cancelled or expired';

-- Active holds only, so it stays as small as the number of calls in flight:
-- finds a wallet's lapsed holds for writes and reads, and all of them for the sweep.
CREATE INDEX reservations_wallet_active ON @extschema@.reservations (wallet_id, expires_at)
  WHERE state = 'active';

REVOKE ALL ON @extschema@.wallets, @extschema@.events, @extschema@.reservations FROM PUBLIC;

-- ---------------------------------------------------------------- immutability

CREATE FUNCTION @extschema@.ledger_events_immutable() RETURNS trigger
  LANGUAGE c AS 'MODULE_PATHNAME', 'ledger_events_immutable';
COMMENT ON FUNCTION @extschema@.ledger_events_immutable() IS
  'Trigger that refuses UPDATE, DELETE and TRUNCATE on the event log';

CREATE TRIGGER events_no_update_delete BEFORE UPDATE OR DELETE ON @extschema@.events
  FOR EACH ROW EXECUTE FUNCTION @extschema@.ledger_events_immutable();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON @extschema@.events
  FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.ledger_events_immutable();
-- Fire even under session_replication_role = replica.
ALTER TABLE @extschema@.events ENABLE ALWAYS TRIGGER events_no_update_delete;
ALTER TABLE @extschema@.events ENABLE ALWAYS TRIGGER events_no_truncate;

-- ---------------------------------------------------------------- writes

CREATE FUNCTION @extschema@.ledger_create_wallet(
  wallet_id text, unit text DEFAULT 'credits', metadata jsonb DEFAULT NULL)
  RETURNS @extschema@.wallet_balance
  LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'ledger_create_wallet';
COMMENT ON FUNCTION @extschema@.ledger_create_wallet(text, text, jsonb) IS
  'Creates a wallet, or returns it unchanged when it exists with the same unit';

CREATE FUNCTION @extschema@.ledger_credit(
  wallet_id text, amount bigint, idempotency_key text, metadata jsonb DEFAULT NULL)
  RETURNS @extschema@.ledger_result
  LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'ledger_credit';
COMMENT ON FUNCTION @extschema@.ledger_credit(text, bigint, text, jsonb) IS
  'Adds funds to a wallet';

CREATE FUNCTION @extschema@.ledger_debit(
  wallet_id text, amount bigint, idempotency_key text, metadata jsonb DEFAULT NULL)
  RETURNS @extschema@.ledger_result
  LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'ledger_debit';
COMMENT ON FUNCTION @extschema@.ledger_debit(text, bigint, text, jsonb) IS
  'Charges a known cost directly from available funds';

CREATE FUNCTION @extschema@.ledger_reserve(
  wallet_id text, amount bigint, ttl interval, idempotency_key text, metadata jsonb DEFAULT NULL)
  RETURNS @extschema@.ledger_result
  LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'ledger_reserve';
COMMENT ON FUNCTION @extschema@.ledger_reserve(text, bigint, interval, text, jsonb) IS
  'Holds funds before a call; the hold lapses after ttl';

CREATE FUNCTION @extschema@.ledger_settle(
  wallet_id text, reservation_id uuid, amount bigint, idempotency_key text,
  metadata jsonb DEFAULT NULL)
  RETURNS @extschema@.ledger_result
  LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'ledger_settle';
COMMENT ON FUNCTION @extschema@.ledger_settle(text, uuid, bigint, text, jsonb) IS
  'Captures the real cost of a call from its hold and releases the rest';

CREATE FUNCTION @extschema@.ledger_cancel(
  wallet_id text, reservation_id uuid, idempotency_key text, metadata jsonb DEFAULT NULL)
  RETURNS @extschema@.ledger_result
  LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'ledger_cancel';
COMMENT ON FUNCTION @extschema@.ledger_cancel(text, uuid, text, jsonb) IS
  'Releases a whole hold';

CREATE FUNCTION @extschema@.ledger_extend(
  wallet_id text, reservation_id uuid, ttl interval, idempotency_key text)
  RETURNS @extschema@.ledger_result
  LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'ledger_extend';
COMMENT ON FUNCTION @extschema@.ledger_extend(text, uuid, interval, text) IS
  'Heartbeat of a long call: the hold now expires ttl from now';

CREATE FUNCTION @extschema@.ledger_expire(max_rows integer DEFAULT 10000)
  RETURNS integer
  LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'ledger_expire';
COMMENT ON FUNCTION @extschema@.ledger_expire(integer) IS
  'Writes the expire event (the refund) of up to max_rows lapsed holds; returns how many';

-- ---------------------------------------------------------------- batches

CREATE FUNCTION @extschema@.ledger_reserve_batch(
  wallet_ids text[], amounts bigint[], ttls interval[], idempotency_keys text[],
  metadata jsonb[] DEFAULT NULL)
  RETURNS TABLE (ordinal integer, sqlstate text, message text, wallet_id text, seq bigint,
                 kind text, reservation_id uuid, amount bigint, balance bigint, reserved bigint,
                 available bigint, expires_at timestamptz, at timestamptz, replayed boolean)
  LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'ledger_reserve_batch';
COMMENT ON FUNCTION @extschema@.ledger_reserve_batch(text[], bigint[], interval[], text[], jsonb[]) IS
  'One ledger_reserve per array element; one row per element with its SQLSTATE (00000 on success) and result';

CREATE FUNCTION @extschema@.ledger_settle_batch(
  wallet_ids text[], reservation_ids uuid[], amounts bigint[], idempotency_keys text[],
  metadata jsonb[] DEFAULT NULL)
  RETURNS TABLE (ordinal integer, sqlstate text, message text, wallet_id text, seq bigint,
                 kind text, reservation_id uuid, amount bigint, balance bigint, reserved bigint,
                 available bigint, expires_at timestamptz, at timestamptz, replayed boolean)
  LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'ledger_settle_batch';
COMMENT ON FUNCTION @extschema@.ledger_settle_batch(text[], uuid[], bigint[], text[], jsonb[]) IS
  'One ledger_settle per array element; one row per element with its SQLSTATE (00000 on success) and result';

-- ---------------------------------------------------------------- reads

CREATE FUNCTION @extschema@.ledger_balance(wallet_id text)
  RETURNS @extschema@.wallet_balance
  LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'ledger_balance';
COMMENT ON FUNCTION @extschema@.ledger_balance(text) IS
  'A wallet''s balance, reserved and available funds now; lapsed holds no longer count';

CREATE FUNCTION @extschema@.ledger_reservation(wallet_id text, reservation_id uuid)
  RETURNS @extschema@.reservation_status
  LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'ledger_reservation';
COMMENT ON FUNCTION @extschema@.ledger_reservation(text, uuid) IS
  'One reservation and its state now';

CREATE FUNCTION @extschema@.ledger_history(
  wallet_id text, after_seq bigint DEFAULT 0, max_rows integer DEFAULT 100)
  RETURNS TABLE (wallet_id text, seq bigint, kind text, amount bigint, reservation_id uuid,
                 idempotency_key text, balance bigint, reserved bigint, at timestamptz,
                 metadata jsonb)
  LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'ledger_history';
COMMENT ON FUNCTION @extschema@.ledger_history(text, bigint, integer) IS
  'A page of a wallet''s events after after_seq, in sequence order';

CREATE FUNCTION @extschema@.ledger_verify(wallet_id text DEFAULT NULL)
  RETURNS TABLE (wallet_id text, problem text)
  LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'ledger_verify';
COMMENT ON FUNCTION @extschema@.ledger_verify(text) IS
  'Replays the events and returns one row per divergence from the stored state; no rows means consistent';

-- ---------------------------------------------------------------- expiry schedule

-- Scheduling glue for pg_cron; named jobs are upserts, so calling it again is harmless.
CREATE FUNCTION @extschema@.ledger_schedule_expiry(schedule text DEFAULT '* * * * *')
  RETURNS bigint
  LANGUAGE plpgsql VOLATILE
  SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_cron') THEN
    RAISE EXCEPTION 'pg_cron is not installed in this database'
      USING ERRCODE = '55000',
            HINT = 'Run CREATE EXTENSION pg_cron in the database named by cron.database_name, or call ledger_expire() from another scheduler.';
  END IF;
  RETURN cron.schedule('baseledger-expire', schedule,
                       'SELECT @extschema@.ledger_expire()');
END
$$;
COMMENT ON FUNCTION @extschema@.ledger_schedule_expiry(text) IS
  'Schedules ledger_expire() as the pg_cron job baseledger-expire (every minute by default)';

CREATE FUNCTION @extschema@.ledger_unschedule_expiry()
  RETURNS boolean
  LANGUAGE plpgsql VOLATILE
  SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_cron') THEN
    RETURN false;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM cron.job WHERE jobname = 'baseledger-expire') THEN
    RETURN false;
  END IF;
  RETURN cron.unschedule('baseledger-expire');
END
$$;
COMMENT ON FUNCTION @extschema@.ledger_unschedule_expiry() IS
  'Removes the pg_cron job baseledger-expire; false when there was none';

-- Scheduled now when pg_cron is here; otherwise a NOTICE says so. The script
-- runs with client_min_messages at WARNING, so the notice is sent at commit
-- by a helper that exists only while this script runs.
CREATE FUNCTION @extschema@.ledger_notice_no_cron() RETURNS void
  LANGUAGE c AS 'MODULE_PATHNAME', 'ledger_notice_no_cron';

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_cron') THEN
    PERFORM @extschema@.ledger_schedule_expiry();
  ELSE
    PERFORM @extschema@.ledger_notice_no_cron();
  END IF;
END
$$;

DROP FUNCTION @extschema@.ledger_notice_no_cron();
