-- A minimal ledger reserve written in PL/pgSQL, the comparison point for
-- ledger_reserve: what a user would otherwise write by hand. Same tables
-- (those of ledger.wallets, ledger.events and ledger.reservations, with their
-- indexes and constraints) and the same steps as the C++ write path:
-- a transaction-scoped advisory lock per wallet, the wallet row locked, the
-- idempotency key looked up and its fingerprint compared, lapsed holds
-- expired with one event each, the funds checked, then the event, the
-- reservation and the wallet's projection written. It validates less than
-- ledger_reserve (no metadata, no ttl bound), so it is if anything a little
-- cheaper than a complete PL/pgSQL ledger.
--
-- The tables are those of baseledger 0.1.0, declared here so that the
-- reference does not change when the extension's schema does (0.2.0 adds a
-- hash chain to the events, which the reference does not compute).
CREATE SCHEMA plref;

CREATE TABLE plref.wallets (
  wallet_id           text        PRIMARY KEY,
  unit                text        NOT NULL,
  balance             bigint      NOT NULL DEFAULT 0,
  reserved            bigint      NOT NULL DEFAULT 0,
  active_reservations integer     NOT NULL DEFAULT 0,
  last_seq            bigint      NOT NULL DEFAULT 0,
  last_at             timestamptz,
  created_at          timestamptz NOT NULL,
  metadata            jsonb,
  CHECK (balance - reserved >= 0),
  CHECK (reserved >= 0)
);

CREATE TABLE plref.events (
  wallet_id       text               NOT NULL,
  seq             bigint             NOT NULL,
  kind            ledger.event_kind  NOT NULL,
  amount          bigint             NOT NULL,
  reservation_id  uuid,
  idempotency_key text,
  fingerprint     bytea,
  balance         bigint             NOT NULL,
  reserved        bigint             NOT NULL,
  expires_at      timestamptz,
  at              timestamptz        NOT NULL,
  metadata        jsonb,
  PRIMARY KEY (wallet_id, seq),
  UNIQUE (wallet_id, idempotency_key)
);

CREATE TABLE plref.reservations (
  reservation_id uuid                     NOT NULL,
  wallet_id      text                     NOT NULL,
  amount         bigint                   NOT NULL,
  captured       bigint                   NOT NULL DEFAULT 0,
  state          ledger.reservation_state NOT NULL,
  expires_at     timestamptz              NOT NULL,
  created_at     timestamptz              NOT NULL,
  updated_at     timestamptz              NOT NULL,
  PRIMARY KEY (wallet_id, reservation_id)
);
CREATE INDEX ON plref.reservations (expires_at) WHERE state = 'active';
CREATE INDEX ON plref.reservations (wallet_id, expires_at) WHERE state = 'active';

CREATE FUNCTION plref.reserve(
  p_wallet_id text, p_amount bigint, p_ttl interval, p_key text,
  OUT reservation_id uuid, OUT seq bigint, OUT balance bigint, OUT reserved bigint,
  OUT available bigint, OUT expires_at timestamptz, OUT at timestamptz, OUT replayed boolean)
  LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  w   plref.wallets;
  e   plref.events;
  d   record;
  fp  bytea;
  now_ timestamptz;
BEGIN
  IF p_wallet_id IS NULL OR p_amount IS NULL OR p_ttl IS NULL OR p_key IS NULL THEN
    RAISE EXCEPTION 'required argument is NULL' USING ERRCODE = '22004';
  END IF;
  IF p_amount <= 0 OR p_ttl <= interval '0' OR length(p_key) NOT BETWEEN 1 AND 255 THEN
    RAISE EXCEPTION 'invalid argument' USING ERRCODE = '22023';
  END IF;
  fp := sha256(convert_to(concat_ws('|', 'reserve', p_amount, p_ttl), 'UTF8'));

  PERFORM pg_advisory_xact_lock(19522, hashtext(p_wallet_id));
  SELECT * INTO w FROM plref.wallets WHERE wallet_id = p_wallet_id FOR NO KEY UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'wallet not found' USING ERRCODE = 'LB002';
  END IF;

  SELECT * INTO e FROM plref.events ev
   WHERE ev.wallet_id = p_wallet_id AND ev.idempotency_key = p_key;
  IF FOUND THEN
    IF e.fingerprint IS DISTINCT FROM fp THEN
      RAISE EXCEPTION 'idempotency key already used with different arguments'
        USING ERRCODE = 'LB007';
    END IF;
    reservation_id := e.reservation_id; seq := e.seq; balance := e.balance;
    reserved := e.reserved; available := e.balance - e.reserved;
    expires_at := e.expires_at; at := e.at; replayed := true;
    RETURN;
  END IF;

  now_ := greatest(clock_timestamp(), w.last_at + interval '1 microsecond');
  -- Lapsed holds get their expire event before anything else happens.
  FOR d IN SELECT r.reservation_id, r.amount, r.captured FROM plref.reservations r
            WHERE r.wallet_id = p_wallet_id AND r.state = 'active' AND r.expires_at <= now_
            ORDER BY r.expires_at
  LOOP
    w.last_seq := w.last_seq + 1;
    w.reserved := w.reserved - (d.amount - d.captured);
    w.active_reservations := w.active_reservations - 1;
    INSERT INTO plref.events (wallet_id, seq, kind, amount, reservation_id, balance, reserved, at)
    VALUES (p_wallet_id, w.last_seq, 'expire', d.amount - d.captured, d.reservation_id,
            w.balance, w.reserved, now_);
    UPDATE plref.reservations r SET state = 'expired', updated_at = now_
     WHERE r.wallet_id = p_wallet_id AND r.reservation_id = d.reservation_id;
    now_ := now_ + interval '1 microsecond';
  END LOOP;

  IF w.balance - w.reserved < p_amount THEN
    RAISE EXCEPTION 'insufficient funds' USING ERRCODE = 'LB001';
  END IF;

  reservation_id := gen_random_uuid();
  seq := w.last_seq + 1;
  balance := w.balance;
  reserved := w.reserved + p_amount;
  available := balance - reserved;
  expires_at := now_ + p_ttl;
  at := now_;
  replayed := false;
  INSERT INTO plref.events (wallet_id, seq, kind, amount, reservation_id, idempotency_key,
                            fingerprint, balance, reserved, expires_at, at)
  VALUES (p_wallet_id, seq, 'reserve', p_amount, reservation_id, p_key, fp, balance, reserved,
          expires_at, at);
  INSERT INTO plref.reservations (wallet_id, reservation_id, amount, state, expires_at,
                                  created_at, updated_at)
  VALUES (p_wallet_id, reservation_id, p_amount, 'active', expires_at, now_, now_);
  w.reserved := reserved;
  w.last_seq := seq;
  UPDATE plref.wallets wl
     SET reserved = w.reserved, active_reservations = w.active_reservations + 1,
         last_seq = w.last_seq, last_at = now_
   WHERE wl.wallet_id = p_wallet_id;
END
$$;
