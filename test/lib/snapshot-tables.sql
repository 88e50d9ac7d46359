-- The ledger's tables as 0.1.0 defines them, as text, without calling the
-- API: compared across the intermediate steps of an upgrade, where the
-- installed module serves only the newest schema.
\set ON_ERROR_STOP on
\pset format unaligned
\pset tuples_only on
SET TimeZone = 'UTC';
SELECT 'wallet', wallet_id, unit, balance, reserved, active_reservations, last_seq, last_at,
       created_at, metadata
  FROM ledger.wallets ORDER BY wallet_id;
SELECT 'reservation', wallet_id, reservation_id, state, amount, captured, expires_at,
       created_at, updated_at
  FROM ledger.reservations ORDER BY wallet_id, created_at;
SELECT 'event', wallet_id, seq, kind, amount, reservation_id, idempotency_key,
       encode(fingerprint, 'hex'), balance, reserved, expires_at, at, metadata
  FROM ledger.events ORDER BY wallet_id, seq;
