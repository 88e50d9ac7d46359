-- Loads the benchmark database: the extension, :wallets funded wallets plus
-- the hot wallet, the baseline table and the PL/pgSQL reference ledger.
-- Run by bench/run.sh with psql -v wallets=N.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
CREATE EXTENSION baseledger;
RESET client_min_messages;

-- Ample funds: 10^15 units per wallet, so no workload ever runs out.
SELECT count(*) AS wallets_created
  FROM generate_series(1, :wallets) g,
       ledger.ledger_create_wallet('w' || g) w;
SELECT count(*) AS wallets_funded
  FROM generate_series(1, :wallets) g,
       ledger.ledger_credit('w' || g, 1000000000000000, 'fund') c;
SELECT ledger.ledger_create_wallet('hot') IS NOT NULL AS hot_created;
SELECT (ledger.ledger_credit('hot', 1000000000000000, 'fund')).balance AS hot_funded;

-- The yardstick: the cheapest durable write with a primary key and one
-- unique text index.
CREATE TABLE bench_baseline (
  id bigserial PRIMARY KEY,
  k  text UNIQUE,
  v  bigint
);

-- The PL/pgSQL reference starts from the same rows as the ledger.
\ir plpgsql_reference.sql
INSERT INTO plref.wallets
  SELECT wallet_id, unit, balance, reserved, active_reservations, last_seq, last_at, created_at,
         metadata
    FROM ledger.wallets;
INSERT INTO plref.events
  SELECT wallet_id, seq, kind, amount, reservation_id, idempotency_key, fingerprint, balance,
         reserved, expires_at, at, metadata
    FROM ledger.events;

VACUUM ANALYZE;
