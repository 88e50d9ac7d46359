-- One ledger_reserve_batch call of :batch elements on random wallets, one
-- transaction. Every element must succeed: a failed element aborts the client
-- (the cast below fails), so a broken batch cannot pass as a fast one.
\set n :n + 1
SELECT count(*) FILTER (WHERE sqlstate <> '00000') AS bad
  FROM ledger.ledger_reserve_batch(
    ARRAY(SELECT 'w' || (1 + floor(random() * :wallets::int)::int) FROM generate_series(1, :batch::int)),
    array_fill(100::bigint, ARRAY[:batch::int]),
    array_fill('12 hours'::interval, ARRAY[:batch::int]),
    ARRAY(SELECT 'b' || :run || '-' || :client_id || '-' || :n || '-' || g FROM generate_series(1, :batch::int) g)) \gset
\if :bad > 0
SELECT 'a ledger_reserve_batch element failed'::int;
\endif
