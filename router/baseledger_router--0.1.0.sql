-- baseledger_router 0.1.0: the baseledger API on a router database, each call
-- forwarded by PL/Proxy to the shard that owns its wallet's tenant.
--
-- A wallet's tenant is the root segment of its id (the part before the first
-- '/'), so a whole wallet tree lives on one shard. The shards are ordinary
-- databases with CREATE EXTENSION baseledger; the cluster is the PL/Proxy
-- foreign server named baseledger (see router/README.md). Every function has
-- the name, arguments, defaults and result of baseledger's; errors raised by a
-- shard reach the caller with the shard's SQLSTATE.

\echo Use "CREATE EXTENSION baseledger_router CASCADE" to load this file. \quit

-- ---------------------------------------------------------------- result types
-- Identical to baseledger's, so that client code reads the same columns.

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

-- ---------------------------------------------------------------- placement

-- The hash PL/Proxy maps to a partition (hash & (partitions - 1)): hashtext
-- of the root segment. A NULL id hashes as '' so that the call still reaches
-- a shard, which refuses it with 22004 like a direct call (PL/Proxy itself
-- would fail on a NULL hash). Every proxy function below writes this
-- expression out in its RUN ON clause rather than calling this function:
-- PL/Proxy evaluates RUN ON with a query per call, and a builtin there costs
-- the router less than a SQL function. The two must stay equal.
CREATE FUNCTION @extschema@.ledger_tenant_hash(wallet_id text) RETURNS integer
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  SET search_path = pg_catalog, pg_temp
  AS $$ SELECT hashtext(coalesce(split_part(wallet_id, '/', 1), '')) $$;
COMMENT ON FUNCTION @extschema@.ledger_tenant_hash(text) IS
  'hashtext of the wallet id''s root segment (its tenant): the key PL/Proxy routes on';

-- The cluster's partitions, from the options p0, p1, ... of the foreign server
-- baseledger (the connection strings; passwords belong in user mappings).
CREATE FUNCTION @extschema@.ledger_router_partitions()
  RETURNS TABLE (partition integer, connstr text)
  LANGUAGE sql STABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT substr(split_part(o, '=', 1), 2)::integer,
         substr(o, strpos(o, '=') + 1)
    FROM pg_foreign_server s, unnest(s.srvoptions) o
   WHERE s.srvname = 'baseledger' AND o ~ '^p[0-9]+='
   ORDER BY 1
$$;
COMMENT ON FUNCTION @extschema@.ledger_router_partitions() IS
  'The partitions of the cluster baseledger and their connection strings';

-- The partition that owns a wallet (what PL/Proxy computes on each call).
CREATE FUNCTION @extschema@.ledger_router_partition(wallet_id text) RETURNS integer
  LANGUAGE sql STABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT @extschema@.ledger_tenant_hash(wallet_id) & (count(*)::integer - 1)
    FROM @extschema@.ledger_router_partitions()
$$;
COMMENT ON FUNCTION @extschema@.ledger_router_partition(text) IS
  'The partition number that owns the wallet''s tenant';

-- Health check of one partition: its server's address, port and database.
-- Fails with PL/Proxy's connection error when the shard is down.
CREATE FUNCTION @extschema@.ledger_router_ping(partition integer)
  RETURNS TABLE (server_addr text, server_port integer, database text, baseledger_version text)
  LANGUAGE plproxy VOLATILE AS $$
  CLUSTER 'baseledger';
  RUN ON partition;
  SELECT coalesce(host(inet_server_addr()), 'local') AS server_addr,
         current_setting('port')::integer AS server_port,
         current_database()::text AS database,
         (SELECT extversion FROM pg_catalog.pg_extension
           WHERE extname = 'baseledger')::text AS baseledger_version;
$$;
COMMENT ON FUNCTION @extschema@.ledger_router_ping(integer) IS
  'Connects to one partition and reports where it is and which baseledger it runs';

-- ---------------------------------------------------------------- writes

CREATE FUNCTION @extschema@.ledger_create_wallet(
  wallet_id text, unit text DEFAULT 'credits', metadata jsonb DEFAULT NULL)
  RETURNS @extschema@.wallet_balance
  LANGUAGE plproxy VOLATILE AS $$
  CLUSTER 'baseledger';
  RUN ON hashtext(coalesce(split_part(wallet_id, '/', 1), ''));
$$;
COMMENT ON FUNCTION @extschema@.ledger_create_wallet(text, text, jsonb) IS
  'Creates a wallet on its tenant''s shard, or returns it unchanged when it exists with the same unit';

CREATE FUNCTION @extschema@.ledger_credit(
  wallet_id text, amount bigint, idempotency_key text, metadata jsonb DEFAULT NULL)
  RETURNS @extschema@.ledger_result
  LANGUAGE plproxy VOLATILE AS $$
  CLUSTER 'baseledger';
  RUN ON hashtext(coalesce(split_part(wallet_id, '/', 1), ''));
$$;
COMMENT ON FUNCTION @extschema@.ledger_credit(text, bigint, text, jsonb) IS
  'Adds funds to a wallet (on its tenant''s shard)';

CREATE FUNCTION @extschema@.ledger_debit(
  wallet_id text, amount bigint, idempotency_key text, metadata jsonb DEFAULT NULL)
  RETURNS @extschema@.ledger_result
  LANGUAGE plproxy VOLATILE AS $$
  CLUSTER 'baseledger';
  RUN ON hashtext(coalesce(split_part(wallet_id, '/', 1), ''));
$$;
COMMENT ON FUNCTION @extschema@.ledger_debit(text, bigint, text, jsonb) IS
  'Charges a known cost directly from available funds (on the wallet''s shard)';

CREATE FUNCTION @extschema@.ledger_reserve(
  wallet_id text, amount bigint, ttl interval, idempotency_key text, metadata jsonb DEFAULT NULL)
  RETURNS @extschema@.ledger_result
  LANGUAGE plproxy VOLATILE AS $$
  CLUSTER 'baseledger';
  RUN ON hashtext(coalesce(split_part(wallet_id, '/', 1), ''));
$$;
COMMENT ON FUNCTION @extschema@.ledger_reserve(text, bigint, interval, text, jsonb) IS
  'Holds funds before a call; the hold lapses after ttl (on the wallet''s shard)';

CREATE FUNCTION @extschema@.ledger_settle(
  wallet_id text, reservation_id uuid, amount bigint, idempotency_key text,
  metadata jsonb DEFAULT NULL)
  RETURNS @extschema@.ledger_result
  LANGUAGE plproxy VOLATILE AS $$
  CLUSTER 'baseledger';
  RUN ON hashtext(coalesce(split_part(wallet_id, '/', 1), ''));
$$;
COMMENT ON FUNCTION @extschema@.ledger_settle(text, uuid, bigint, text, jsonb) IS
  'Captures the real cost of a call from its hold and releases the rest (on the wallet''s shard)';

CREATE FUNCTION @extschema@.ledger_cancel(
  wallet_id text, reservation_id uuid, idempotency_key text, metadata jsonb DEFAULT NULL)
  RETURNS @extschema@.ledger_result
  LANGUAGE plproxy VOLATILE AS $$
  CLUSTER 'baseledger';
  RUN ON hashtext(coalesce(split_part(wallet_id, '/', 1), ''));
$$;
COMMENT ON FUNCTION @extschema@.ledger_cancel(text, uuid, text, jsonb) IS
  'Releases a whole hold (on the wallet''s shard)';

CREATE FUNCTION @extschema@.ledger_extend(
  wallet_id text, reservation_id uuid, ttl interval, idempotency_key text)
  RETURNS @extschema@.ledger_result
  LANGUAGE plproxy VOLATILE AS $$
  CLUSTER 'baseledger';
  RUN ON hashtext(coalesce(split_part(wallet_id, '/', 1), ''));
$$;
COMMENT ON FUNCTION @extschema@.ledger_extend(text, uuid, interval, text) IS
  'Heartbeat of a long call: the hold now expires ttl from now (on the wallet''s shard)';

-- ledger_expire runs on every partition at once; each shard expires up to
-- max_rows of its own lapsed holds and the router returns the sum.
CREATE FUNCTION @extschema@.ledger_expire_partitions(max_rows integer)
  RETURNS SETOF integer
  LANGUAGE plproxy VOLATILE AS $$
  CLUSTER 'baseledger';
  RUN ON ALL;
  TARGET ledger.ledger_expire;
$$;
COMMENT ON FUNCTION @extschema@.ledger_expire_partitions(integer) IS
  'ledger_expire(max_rows) on every partition: one count per partition';

CREATE FUNCTION @extschema@.ledger_expire(max_rows integer DEFAULT 10000)
  RETURNS integer
  LANGUAGE sql VOLATILE
  SET search_path = pg_catalog, pg_temp
  AS $$ SELECT coalesce(sum(n), 0)::integer FROM @extschema@.ledger_expire_partitions(max_rows) n $$;
COMMENT ON FUNCTION @extschema@.ledger_expire(integer) IS
  'Runs ledger_expire(max_rows) on every shard (max_rows per shard); returns the total expired';

-- ---------------------------------------------------------------- batches
--
-- A batch's elements may name wallets of several tenants. The router splits
-- the arrays by partition (PL/Proxy SPLIT), keeping the elements' order within
-- each partition, runs the parts on their shards in parallel, maps each
-- part's ordinals back to the caller's positions and returns the rows in
-- element order. A call a shard would refuse as a whole (a NULL or
-- multi-dimensional array, arrays of different lengths, too many elements)
-- is sent unsplit to partition 0, which refuses it with its own SQLSTATE and
-- message.

CREATE FUNCTION @extschema@.ledger_reserve_batch_part(
  wallet_ids text[], amounts bigint[], ttls interval[], idempotency_keys text[],
  metadata jsonb[], positions integer[])
  RETURNS TABLE (ordinal integer, sqlstate text, message text, wallet_id text, seq bigint,
                 kind text, reservation_id uuid, amount bigint, balance bigint, reserved bigint,
                 available bigint, expires_at timestamptz, at timestamptz, replayed boolean)
  LANGUAGE plproxy VOLATILE AS $$
  CLUSTER 'baseledger';
  SPLIT ALL;
  RUN ON hashtext(coalesce(split_part(wallet_ids, '/', 1), ''));
  SELECT (positions)[b.ordinal] AS ordinal, b.sqlstate, b.message, b.wallet_id, b.seq, b.kind,
         b.reservation_id, b.amount, b.balance, b.reserved, b.available, b.expires_at, b.at,
         b.replayed
    FROM ledger.ledger_reserve_batch(wallet_ids, amounts, ttls, idempotency_keys, metadata) b;
$$;
COMMENT ON FUNCTION @extschema@.ledger_reserve_batch_part(text[], bigint[], interval[], text[], jsonb[], integer[]) IS
  'ledger_reserve_batch split by partition; positions maps each part''s ordinals back';

CREATE FUNCTION @extschema@.ledger_reserve_batch_whole(
  wallet_ids text[], amounts bigint[], ttls interval[], idempotency_keys text[],
  metadata jsonb[])
  RETURNS TABLE (ordinal integer, sqlstate text, message text, wallet_id text, seq bigint,
                 kind text, reservation_id uuid, amount bigint, balance bigint, reserved bigint,
                 available bigint, expires_at timestamptz, at timestamptz, replayed boolean)
  LANGUAGE plproxy VOLATILE AS $$
  CLUSTER 'baseledger';
  RUN ON 0;
  TARGET ledger.ledger_reserve_batch;
$$;
COMMENT ON FUNCTION @extschema@.ledger_reserve_batch_whole(text[], bigint[], interval[], text[], jsonb[]) IS
  'ledger_reserve_batch sent unsplit to partition 0: for calls the shard refuses as a whole';

CREATE FUNCTION @extschema@.ledger_settle_batch_part(
  wallet_ids text[], reservation_ids uuid[], amounts bigint[], idempotency_keys text[],
  metadata jsonb[], positions integer[])
  RETURNS TABLE (ordinal integer, sqlstate text, message text, wallet_id text, seq bigint,
                 kind text, reservation_id uuid, amount bigint, balance bigint, reserved bigint,
                 available bigint, expires_at timestamptz, at timestamptz, replayed boolean)
  LANGUAGE plproxy VOLATILE AS $$
  CLUSTER 'baseledger';
  SPLIT ALL;
  RUN ON hashtext(coalesce(split_part(wallet_ids, '/', 1), ''));
  SELECT (positions)[b.ordinal] AS ordinal, b.sqlstate, b.message, b.wallet_id, b.seq, b.kind,
         b.reservation_id, b.amount, b.balance, b.reserved, b.available, b.expires_at, b.at,
         b.replayed
    FROM ledger.ledger_settle_batch(wallet_ids, reservation_ids, amounts, idempotency_keys,
                                    metadata) b;
$$;
COMMENT ON FUNCTION @extschema@.ledger_settle_batch_part(text[], uuid[], bigint[], text[], jsonb[], integer[]) IS
  'ledger_settle_batch split by partition; positions maps each part''s ordinals back';

CREATE FUNCTION @extschema@.ledger_settle_batch_whole(
  wallet_ids text[], reservation_ids uuid[], amounts bigint[], idempotency_keys text[],
  metadata jsonb[])
  RETURNS TABLE (ordinal integer, sqlstate text, message text, wallet_id text, seq bigint,
                 kind text, reservation_id uuid, amount bigint, balance bigint, reserved bigint,
                 available bigint, expires_at timestamptz, at timestamptz, replayed boolean)
  LANGUAGE plproxy VOLATILE AS $$
  CLUSTER 'baseledger';
  RUN ON 0;
  TARGET ledger.ledger_settle_batch;
$$;
COMMENT ON FUNCTION @extschema@.ledger_settle_batch_whole(text[], uuid[], bigint[], text[], jsonb[]) IS
  'ledger_settle_batch sent unsplit to partition 0: for calls the shard refuses as a whole';

-- Whether a batch can be split: every array given and one-dimensional, all of
-- one length (metadata too, when given; a NULL array has no length), and no
-- more elements than a shard accepts (baseledger's batch limit,
-- core::limits::batch_max_elements = 10,000).
CREATE FUNCTION @extschema@.ledger_batch_shape_ok(
  n integer, dims integer[], lengths integer[], metadata_dims integer, metadata_length integer)
  RETURNS boolean
  LANGUAGE sql IMMUTABLE
  SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT n IS NOT NULL AND n <= 10000
     AND NOT EXISTS (SELECT 1 FROM unnest(dims) d WHERE d > 1)
     AND NOT EXISTS (SELECT 1 FROM unnest(lengths) l WHERE l IS DISTINCT FROM n)
     AND (metadata_dims IS NULL OR (metadata_dims <= 1 AND metadata_length = n))
$$;
COMMENT ON FUNCTION @extschema@.ledger_batch_shape_ok(integer, integer[], integer[], integer, integer) IS
  'Whether a batch''s arrays can be split by partition (otherwise a shard refuses it whole)';

CREATE FUNCTION @extschema@.ledger_reserve_batch(
  wallet_ids text[], amounts bigint[], ttls interval[], idempotency_keys text[],
  metadata jsonb[] DEFAULT NULL)
  RETURNS TABLE (ordinal integer, sqlstate text, message text, wallet_id text, seq bigint,
                 kind text, reservation_id uuid, amount bigint, balance bigint, reserved bigint,
                 available bigint, expires_at timestamptz, at timestamptz, replayed boolean)
  LANGUAGE plpgsql VOLATILE
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  -- cardinality() counts the elements of an array of any shape (0 when empty,
  -- NULL when the array is NULL); array_ndims is NULL for an empty array.
  n integer := cardinality(wallet_ids);
BEGIN
  IF n = 0 THEN
    -- Nothing to split: the shard's answer (no rows, or its refusal of a
    -- malformed call) comes from partition 0.
    RETURN QUERY SELECT * FROM @extschema@.ledger_reserve_batch_whole(
      wallet_ids, amounts, ttls, idempotency_keys, metadata);
  ELSIF @extschema@.ledger_batch_shape_ok(
      n,
      ARRAY[coalesce(array_ndims(wallet_ids), 1), coalesce(array_ndims(amounts), 1),
            coalesce(array_ndims(ttls), 1), coalesce(array_ndims(idempotency_keys), 1)],
      ARRAY[cardinality(amounts), cardinality(ttls), cardinality(idempotency_keys)],
      CASE WHEN metadata IS NULL THEN NULL ELSE coalesce(array_ndims(metadata), 1) END,
      cardinality(metadata)) THEN
    RETURN QUERY SELECT * FROM @extschema@.ledger_reserve_batch_part(
      wallet_ids, amounts, ttls, idempotency_keys,
      coalesce(metadata, array_fill(NULL::jsonb, ARRAY[n])),
      ARRAY(SELECT generate_series(1, n))) p
      ORDER BY p.ordinal;
  ELSE
    RETURN QUERY SELECT * FROM @extschema@.ledger_reserve_batch_whole(
      wallet_ids, amounts, ttls, idempotency_keys, metadata);
  END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.ledger_reserve_batch(text[], bigint[], interval[], text[], jsonb[]) IS
  'One ledger_reserve per array element, each on its wallet''s shard; one row per element with its SQLSTATE (00000 on success) and result';

CREATE FUNCTION @extschema@.ledger_settle_batch(
  wallet_ids text[], reservation_ids uuid[], amounts bigint[], idempotency_keys text[],
  metadata jsonb[] DEFAULT NULL)
  RETURNS TABLE (ordinal integer, sqlstate text, message text, wallet_id text, seq bigint,
                 kind text, reservation_id uuid, amount bigint, balance bigint, reserved bigint,
                 available bigint, expires_at timestamptz, at timestamptz, replayed boolean)
  LANGUAGE plpgsql VOLATILE
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  n integer := cardinality(wallet_ids);
BEGIN
  IF n = 0 THEN
    RETURN QUERY SELECT * FROM @extschema@.ledger_settle_batch_whole(
      wallet_ids, reservation_ids, amounts, idempotency_keys, metadata);
  ELSIF @extschema@.ledger_batch_shape_ok(
      n,
      ARRAY[coalesce(array_ndims(wallet_ids), 1), coalesce(array_ndims(reservation_ids), 1),
            coalesce(array_ndims(amounts), 1), coalesce(array_ndims(idempotency_keys), 1)],
      ARRAY[cardinality(reservation_ids), cardinality(amounts), cardinality(idempotency_keys)],
      CASE WHEN metadata IS NULL THEN NULL ELSE coalesce(array_ndims(metadata), 1) END,
      cardinality(metadata)) THEN
    RETURN QUERY SELECT * FROM @extschema@.ledger_settle_batch_part(
      wallet_ids, reservation_ids, amounts, idempotency_keys,
      coalesce(metadata, array_fill(NULL::jsonb, ARRAY[n])),
      ARRAY(SELECT generate_series(1, n))) p
      ORDER BY p.ordinal;
  ELSE
    RETURN QUERY SELECT * FROM @extschema@.ledger_settle_batch_whole(
      wallet_ids, reservation_ids, amounts, idempotency_keys, metadata);
  END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.ledger_settle_batch(text[], uuid[], bigint[], text[], jsonb[]) IS
  'One ledger_settle per array element, each on its wallet''s shard; one row per element with its SQLSTATE (00000 on success) and result';

-- ---------------------------------------------------------------- reads

CREATE FUNCTION @extschema@.ledger_balance(wallet_id text)
  RETURNS @extschema@.wallet_balance
  LANGUAGE plproxy VOLATILE AS $$
  CLUSTER 'baseledger';
  RUN ON hashtext(coalesce(split_part(wallet_id, '/', 1), ''));
$$;
COMMENT ON FUNCTION @extschema@.ledger_balance(text) IS
  'A wallet''s balance, reserved and available funds now, from its shard';

CREATE FUNCTION @extschema@.ledger_reservation(wallet_id text, reservation_id uuid)
  RETURNS @extschema@.reservation_status
  LANGUAGE plproxy VOLATILE AS $$
  CLUSTER 'baseledger';
  RUN ON hashtext(coalesce(split_part(wallet_id, '/', 1), ''));
$$;
COMMENT ON FUNCTION @extschema@.ledger_reservation(text, uuid) IS
  'One reservation and its state now, from its wallet''s shard';

CREATE FUNCTION @extschema@.ledger_history(
  wallet_id text, after_seq bigint DEFAULT 0, max_rows integer DEFAULT 100)
  RETURNS TABLE (wallet_id text, seq bigint, kind text, amount bigint, reservation_id uuid,
                 idempotency_key text, balance bigint, reserved bigint, at timestamptz,
                 metadata jsonb)
  LANGUAGE plproxy VOLATILE AS $$
  CLUSTER 'baseledger';
  RUN ON hashtext(coalesce(split_part(wallet_id, '/', 1), ''));
$$;
COMMENT ON FUNCTION @extschema@.ledger_history(text, bigint, integer) IS
  'A page of a wallet''s events after after_seq, in sequence order, from its shard';

CREATE FUNCTION @extschema@.ledger_head(wallet_id text, seq bigint DEFAULT NULL)
  RETURNS TABLE (wallet_id text, seq bigint, hash bytea)
  LANGUAGE plproxy VOLATILE AS $$
  CLUSTER 'baseledger';
  RUN ON hashtext(coalesce(split_part(wallet_id, '/', 1), ''));
$$;
COMMENT ON FUNCTION @extschema@.ledger_head(text, bigint) IS
  'The wallet''s checkpoint (seq and hash) from its shard';

-- Grants live on the wallet's shard, for the shard role that the router
-- role is mapped to (see README, "Roles and grants").
CREATE FUNCTION @extschema@.ledger_grant(role regrole, wallet_id text, privilege text)
  RETURNS boolean
  LANGUAGE plproxy VOLATILE AS $$
  CLUSTER 'baseledger';
  RUN ON hashtext(coalesce(split_part(wallet_id, '/', 1), ''));
$$;
COMMENT ON FUNCTION @extschema@.ledger_grant(regrole, text, text) IS
  'ledger_grant on the wallet''s shard';

CREATE FUNCTION @extschema@.ledger_revoke(role regrole, wallet_id text, privilege text)
  RETURNS boolean
  LANGUAGE plproxy VOLATILE AS $$
  CLUSTER 'baseledger';
  RUN ON hashtext(coalesce(split_part(wallet_id, '/', 1), ''));
$$;
COMMENT ON FUNCTION @extschema@.ledger_revoke(regrole, text, text) IS
  'ledger_revoke on the wallet''s shard';

CREATE FUNCTION @extschema@.ledger_verify_partitions()
  RETURNS TABLE (wallet_id text, problem text)
  LANGUAGE plproxy VOLATILE AS $$
  CLUSTER 'baseledger';
  RUN ON ALL;
  SELECT v.wallet_id, v.problem FROM ledger.ledger_verify(NULL::text) v;
$$;
COMMENT ON FUNCTION @extschema@.ledger_verify_partitions() IS
  'ledger_verify() on every partition';

CREATE FUNCTION @extschema@.ledger_verify_wallet(wallet_id text)
  RETURNS TABLE (wallet_id text, problem text)
  LANGUAGE plproxy VOLATILE AS $$
  CLUSTER 'baseledger';
  RUN ON hashtext(coalesce(split_part(wallet_id, '/', 1), ''));
  TARGET ledger.ledger_verify;
$$;
COMMENT ON FUNCTION @extschema@.ledger_verify_wallet(text) IS
  'ledger_verify(wallet_id) on the wallet''s partition';

-- Without a wallet: every partition, their rows one after the other. With
-- one: only its partition. (SQL, not PL/pgSQL: the argument and the first
-- result column share the name wallet_id, which PL/pgSQL does not allow.)
CREATE FUNCTION @extschema@.ledger_verify(wallet_id text DEFAULT NULL)
  RETURNS TABLE (wallet_id text, problem text)
  LANGUAGE sql STABLE
  SET search_path = pg_catalog, pg_temp
AS $$
  SELECT * FROM @extschema@.ledger_verify_partitions() WHERE $1 IS NULL
  UNION ALL
  SELECT * FROM @extschema@.ledger_verify_wallet($1) WHERE $1 IS NOT NULL
$$;
COMMENT ON FUNCTION @extschema@.ledger_verify(text) IS
  'Replays the events of one wallet (on its shard) or of all wallets (on every shard); no rows means consistent';

-- ---------------------------------------------------------------- privileges

-- As in baseledger, PUBLIC may execute nothing: the administrator grants
-- USAGE on the schema and EXECUTE on the functions to the roles that call
-- through the router, and maps each to its role on the shards (README). The
-- shards then check that role's privileges and per-wallet grants.
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA @extschema@ FROM PUBLIC;
