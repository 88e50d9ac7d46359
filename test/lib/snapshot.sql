-- The ledger's state as the API and the tables of 0.1.0 show it, as text:
-- compared before and after an upgrade, and between a dump and its restore.
-- Columns added by later versions are left out on purpose.
\set ON_ERROR_STOP on
\pset format unaligned
\pset tuples_only on
SET TimeZone = 'UTC';
SELECT 'balance', b.wallet_id, b.unit, b.balance, b.reserved, b.available,
       b.active_reservations, b.last_seq
  FROM ledger.wallets w, ledger.ledger_balance(w.wallet_id) b
 ORDER BY w.wallet_id;
SELECT 'wallet', wallet_id, unit, balance, reserved, active_reservations, last_seq, last_at,
       created_at, metadata
  FROM ledger.wallets ORDER BY wallet_id;
SELECT 'reservation', s.wallet_id, s.reservation_id, s.state, s.amount, s.captured,
       s.expires_at, s.created_at, s.updated_at, r.state AS stored_state
  FROM ledger.reservations r, ledger.ledger_reservation(r.wallet_id, r.reservation_id) s
 ORDER BY r.wallet_id, r.created_at;
SELECT 'event', wallet_id, seq, kind, amount, reservation_id, idempotency_key,
       encode(fingerprint, 'hex'), balance, reserved, expires_at, at, metadata
  FROM ledger.events ORDER BY wallet_id, seq;
