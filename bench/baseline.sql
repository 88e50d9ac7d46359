-- Baseline: one durable single-row INSERT per transaction into a table with a
-- primary key and one unique text index. The key starts with a random number
-- so inserts land all over the index, as the ledger's idempotency keys do;
-- client id and a per-client counter make it unique.
\set n :n + 1
\set r random(1, 1000000000)
INSERT INTO bench_baseline (k, v) VALUES (:r || '-' || :run || '-' || :client_id || '-' || :n, :n);
