-- A batch cycle: ledger_reserve_batch of :batch elements on random wallets,
-- then ledger_settle_batch of the same holds; two transactions, 2 x :batch
-- rows. A failed element aborts the client, as in batch_reserve.sql.
\set n :n + 1
SELECT array_agg(wallet_id ORDER BY ordinal) AS ws, array_agg(reservation_id ORDER BY ordinal) AS rs,
       count(*) FILTER (WHERE sqlstate <> '00000') AS bad
  FROM ledger.ledger_reserve_batch(
    ARRAY(SELECT 'w' || (1 + floor(random() * :wallets::int)::int) FROM generate_series(1, :batch::int)),
    array_fill(100::bigint, ARRAY[:batch::int]),
    array_fill('12 hours'::interval, ARRAY[:batch::int]),
    ARRAY(SELECT 'b' || :run || '-' || :client_id || '-' || :n || '-' || g FROM generate_series(1, :batch::int) g)) \gset
\if :bad > 0
SELECT 'a ledger_reserve_batch element failed'::int;
\endif
SELECT count(*) FILTER (WHERE sqlstate <> '00000') AS bad
  FROM ledger.ledger_settle_batch(
    :ws::text[], :rs::uuid[],
    array_fill(60::bigint, ARRAY[:batch::int]),
    ARRAY(SELECT 'c' || :run || '-' || :client_id || '-' || :n || '-' || g FROM generate_series(1, :batch::int) g)) \gset
\if :bad > 0
SELECT 'a ledger_settle_batch element failed'::int;
\endif
