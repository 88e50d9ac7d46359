-- What only the router does: placement by tenant, the form in which a
-- shard's error reaches the client, calls that run on every shard, and the
-- transaction boundary of a forwarded call. Runs through the router of a
-- four-shard cluster whose shards' databases are ledger_p0 .. ledger_p3.
SET search_path = ledger, public;

-- Runs a statement and reports its SQLSTATE, message and detail as received.
CREATE FUNCTION pg_temp.err(q text) RETURNS TABLE (sqlstate text, message text, detail text)
  LANGUAGE plpgsql AS $$
DECLARE
  d text;
BEGIN
  EXECUTE q;
  RETURN QUERY SELECT 'ok'::text, NULL::text, NULL::text;
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
  RETURN QUERY SELECT SQLSTATE::text, SQLERRM::text, d;
END $$;

-- ---------------------------------------------------------------- the cluster

SELECT count(*) AS partitions, bool_and(connstr LIKE '%dbname=ledger_p' || partition || '%')
       AS named_after_partition
  FROM ledger_router_partitions();
SELECT p AS partition, (ledger_router_ping(p)).database FROM generate_series(0, 3) p;

-- ---------------------------------------------------------------- placement

-- The tenant is the root segment: a whole wallet tree lives on one partition.
SELECT w, ledger_router_partition(w) AS partition
  FROM unnest(ARRAY['globex', 'globex/ops', 'initech/agent-1', 'initech/a/b/c', 'acme',
                    'acme/research/agent-7', 'zeta/batch-runner', 'zeta/x/y']) w;
SELECT ledger_tenant_hash('acme/x') = hashtext('acme') AS hash_of_root,
       ledger_tenant_hash('acme') = ledger_tenant_hash('acme/research/agent-7') AS same_tree,
       ledger_tenant_hash(NULL) = hashtext('') AS null_as_empty;

-- Parents first (a child needs its parent); the roots are funded, so that
-- only the leaves' own funds refuse below.
SELECT count(*) AS roots FROM unnest(ARRAY['globex', 'initech', 'acme', 'zeta']) w,
       ledger_create_wallet(w) c, ledger_credit(w, 1000000, 'budget') f;
SELECT wallet_id FROM ledger_create_wallet('acme/research', capped => false);
SELECT wallet_id FROM ledger_create_wallet('globex/ops');
SELECT wallet_id FROM ledger_create_wallet('initech/agent-1');
SELECT wallet_id FROM ledger_create_wallet('acme/research/agent-7');
SELECT wallet_id FROM ledger_create_wallet('zeta/batch-runner');

-- ---------------------------------------------------------------- errors

-- A shard's error keeps its SQLSTATE; PL/Proxy prefixes the message with the
-- proxy function and the shard's database, and the detail with "Remote detail".
SELECT * FROM pg_temp.err($$SELECT ledger_debit('acme/research/agent-7', 10, 'd1')$$);
-- The next call on that shard reconnects (PL/Proxy leaves the failed
-- connection unread) and says so; the call itself succeeds.
SELECT wallet_id, balance FROM ledger_balance('acme/research/agent-7');
SELECT * FROM pg_temp.err($$SELECT ledger_credit('zeta/nobody', 10, 'c1')$$);
SELECT * FROM pg_temp.err($$SELECT ledger_credit(NULL, 10, 'c1')$$);
SELECT * FROM pg_temp.err($$SELECT * FROM ledger_reserve_batch(ARRAY['zeta/x'], ARRAY[1, 2]::bigint[],
                                                               ARRAY['1 minute']::interval[],
                                                               ARRAY['k'])$$);

-- ---------------------------------------------------------------- every shard

-- One lapsed hold on each shard: ledger_expire() runs on all four and sums.
SELECT count(*) AS credited FROM (
  SELECT ledger_credit(w, 100, 'c1') FROM unnest(ARRAY['globex/ops', 'initech/agent-1',
                                                       'acme/research/agent-7',
                                                       'zeta/batch-runner']) w) c;
SELECT count(*) AS reserved FROM ledger_reserve_batch(
  ARRAY['globex/ops', 'initech/agent-1', 'acme/research/agent-7', 'zeta/batch-runner'],
  ARRAY[10, 20, 30, 40]::bigint[], array_fill('1 second'::interval, ARRAY[4]),
  ARRAY['r1', 'r1', 'r1', 'r1']) WHERE sqlstate = '00000';
SELECT pg_sleep(1.2);
SELECT ledger_expire() AS expired_on_all_shards;
-- One count per partition: nothing left to expire.
SELECT count(*) AS partitions, sum(n) AS expired FROM ledger_expire_partitions(10) n;
SELECT w, (SELECT kind FROM ledger_history(w, 2, 1)) AS third_event
  FROM unnest(ARRAY['globex/ops', 'initech/agent-1', 'acme/research/agent-7',
                    'zeta/batch-runner']) w;
SELECT count(*) AS problems FROM ledger_verify();

-- ---------------------------------------------------------------- transactions

-- A forwarded call commits on its shard when it returns (PL/Proxy runs
-- every remote call in autocommit): rolling back the router's transaction
-- does not undo it, and a retry with the same key replays it.
BEGIN;
SELECT seq, replayed FROM ledger_credit('globex/ops', 5, 'in-txn');
ROLLBACK;
SELECT seq, replayed FROM ledger_credit('globex/ops', 5, 'in-txn');
SELECT balance FROM ledger_balance('globex/ops');

-- ---------------------------------------------------------------- checkpoints and grants

-- ledger_head comes from the wallet's shard: the head and the hash at a seq.
SELECT seq, length(hash) AS hash_bytes FROM ledger_head('globex/ops');
SELECT h1.hash = h2.hash AS head_is_hash_at_its_seq
  FROM ledger_head('globex/ops') h1, ledger_head('globex/ops', h1.seq) h2;
-- Grants go to the wallet's shard, for a role that exists there too.
SELECT ledger_grant(current_user::regrole, 'globex/ops', 'read') AS granted;
SELECT ledger_revoke(current_user::regrole, 'globex/ops', 'read') AS revoked;
SELECT ledger_revoke(current_user::regrole, 'globex/ops', 'read') AS revoked_again;
