-- The wallet lifecycle through the API only, over wallets of four tenants
-- (globex, initech, acme and zeta: partitions 0, 1, 2 and 3 of a four-shard
-- cluster). The harness runs this file twice against fresh shards, through
-- the router and directly against one baseledger database, with this one
-- expected output: the router must answer exactly as baseledger does,
-- SQLSTATEs and messages included.
SET search_path = ledger, public;
-- After a shard's error PL/Proxy reconnects on the next call and says so with
-- a NOTICE ("PL/Proxy: dropping stale conn"); routing.sql shows it, here it
-- would only tell the two runs apart.
SET client_min_messages = warning;

-- Runs a statement and reports 'ok' or its SQLSTATE and message. PL/Proxy
-- prefixes a shard's message with where it came from ("ledger.ledger_debit(4):
-- [ledger_p2] REMOTE ERROR: "); that prefix is cut so both runs compare.
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, '^.*REMOTE ERROR: ', '');
END $$;

-- A wallet's balance without its as_of time.
CREATE FUNCTION pg_temp.bal(w text)
  RETURNS TABLE (wallet_id text, unit text, balance bigint, reserved bigint, available bigint,
                 active_reservations integer, last_seq bigint)
  LANGUAGE sql AS $$
  SELECT wallet_id, unit, balance, reserved, available, active_reservations, last_seq
    FROM ledger.ledger_balance(w)
$$;

-- Every write's ledger_result, under a label; uuids and times are not shown.
CREATE TEMP TABLE calls (label text PRIMARY KEY, LIKE ledger.ledger_result);
\set shown 'label, wallet_id, seq, kind, amount, balance, reserved, available, reservation_id IS NOT NULL AS has_rid, expires_at - at AS ttl, replayed'
CREATE FUNCTION pg_temp.rid(l text) RETURNS uuid LANGUAGE sql AS $$
  SELECT reservation_id FROM pg_temp.calls WHERE label = $1
$$;

-- ---------------------------------------------------------------- wallets

-- A child needs its parent, in the same unit: each tenant's root first.
-- acme/research is uncapped: it only tracks what its agents spend, and acme
-- bounds them.
SELECT wallet_id, unit, balance FROM ledger_create_wallet('globex');
SELECT wallet_id, unit, balance FROM ledger_create_wallet('initech', 'usd_cents');
SELECT wallet_id, unit, balance FROM ledger_create_wallet('acme');
SELECT wallet_id, unit, balance FROM ledger_create_wallet('acme/research', capped => false);
SELECT wallet_id, unit, balance FROM ledger_create_wallet('zeta');
SELECT wallet_id, unit, balance, reserved, available, active_reservations, last_seq,
       as_of IS NOT NULL AS has_as_of
  FROM ledger_create_wallet('globex/ops');
SELECT wallet_id, unit, balance FROM ledger_create_wallet('initech/agent-1', 'usd_cents',
                                                          '{"team": "tps"}');
SELECT wallet_id, unit, balance FROM ledger_create_wallet('acme/research/agent-7');
SELECT wallet_id, unit, balance FROM ledger_create_wallet('zeta/batch-runner');
-- The same unit again: returned unchanged. Another unit: 42710.
SELECT wallet_id, unit FROM ledger_create_wallet('initech/agent-1', 'usd_cents');
SELECT pg_temp.try($$SELECT ledger_create_wallet('initech/agent-1', 'tokens')$$);
-- Malformed ids and NULLs are refused by the shard, as directly.
SELECT pg_temp.try($$SELECT ledger_create_wallet('acme//x')$$);
SELECT pg_temp.try($$SELECT ledger_create_wallet(NULL)$$);

-- ---------------------------------------------------------------- credit, debit

-- Every level of a tree bounds the spending under it: the roots get ample
-- budgets, so that in this file only the wallets' own funds refuse.
SELECT wallet_id, balance FROM ledger_credit('globex', 1000000, 'budget');
SELECT wallet_id, balance FROM ledger_credit('initech', 1000000, 'budget');
SELECT wallet_id, balance FROM ledger_credit('acme', 1000000, 'budget');
SELECT wallet_id, balance FROM ledger_credit('zeta', 1000000, 'budget');

INSERT INTO calls SELECT 'credit-globex', * FROM ledger_credit('globex/ops', 1000, 'topup-1')
  RETURNING :shown;
INSERT INTO calls SELECT 'credit-initech', * FROM ledger_credit('initech/agent-1', 500, 'topup-1',
                                                                '{"invoice": 17}')
  RETURNING :shown;
INSERT INTO calls SELECT 'credit-acme', * FROM ledger_credit('acme/research/agent-7', 300, 'k1')
  RETURNING :shown;
INSERT INTO calls SELECT 'credit-zeta', * FROM ledger_credit('zeta/batch-runner', 2000, 'k1')
  RETURNING :shown;
-- A retry replays (replayed = true, same seq), and writes nothing.
INSERT INTO calls SELECT 'credit-globex-retry', * FROM ledger_credit('globex/ops', 1000, 'topup-1')
  RETURNING :shown;
SELECT (SELECT at FROM calls WHERE label = 'credit-globex')
       = (SELECT at FROM calls WHERE label = 'credit-globex-retry') AS same_event;
-- The same key with another amount: LB007.
SELECT pg_temp.try($$SELECT ledger_credit('globex/ops', 999, 'topup-1')$$);
-- Debits.
INSERT INTO calls SELECT 'debit-globex', * FROM ledger_debit('globex/ops', 250, 'd1')
  RETURNING :shown;
SELECT pg_temp.try($$SELECT ledger_debit('acme/research/agent-7', 301, 'd1')$$);
SELECT pg_temp.try($$SELECT ledger_debit('acme/nobody', 1, 'd1')$$);
SELECT pg_temp.try($$SELECT ledger_debit('globex/ops', 0, 'd2')$$);
SELECT pg_temp.try($$SELECT ledger_debit('globex/ops', 5, NULL)$$);
SELECT pg_temp.try($$SELECT ledger_credit('globex/ops', 9223372036854775807, 'big')$$);

-- ---------------------------------------------------------------- reserve, settle, cancel, extend

INSERT INTO calls SELECT 'hold-1', * FROM ledger_reserve('acme/research/agent-7', 200, '10 minutes', 'h1')
  RETURNING :shown;
SELECT * FROM pg_temp.bal('acme/research/agent-7');
SELECT pg_temp.try($$SELECT ledger_reserve('acme/research/agent-7', 101, '10 minutes', 'h2')$$);
SELECT pg_temp.try($$SELECT ledger_reserve('acme/research/agent-7', 10, '0 seconds', 'h2')$$);
SELECT pg_temp.try($$SELECT ledger_reserve('acme/research/agent-7', 10, '2 days', 'h2')$$);
SELECT reservation_id = pg_temp.rid('hold-1') AS same_id, wallet_id, state, amount, captured,
       expires_at > created_at AS expires_later
  FROM ledger_reservation('acme/research/agent-7', pg_temp.rid('hold-1'));
-- Capture more than held: LB006. Capture 120: the rest is released.
SELECT pg_temp.try(format($$SELECT ledger_settle('acme/research/agent-7', %L, 201, 's1')$$,
                          pg_temp.rid('hold-1')));
INSERT INTO calls SELECT 'settle-1', * FROM ledger_settle('acme/research/agent-7',
                                                          pg_temp.rid('hold-1'), 120, 's1')
  RETURNING :shown;
SELECT pg_temp.try(format($$SELECT ledger_cancel('acme/research/agent-7', %L, 'c1')$$,
                          pg_temp.rid('hold-1')));
SELECT state, captured FROM ledger_reservation('acme/research/agent-7', pg_temp.rid('hold-1'));
-- The hold is in its wallet only: LB003 elsewhere, even in the same tenant.
SELECT pg_temp.try(format($$SELECT ledger_reservation('acme', %L)$$, pg_temp.rid('hold-1')));
-- A hold cancelled, a hold extended.
INSERT INTO calls SELECT 'hold-2', * FROM ledger_reserve('zeta/batch-runner', 700, '1 minute', 'h2')
  RETURNING :shown;
INSERT INTO calls SELECT 'extend-2', * FROM ledger_extend('zeta/batch-runner', pg_temp.rid('hold-2'),
                                                         '5 minutes', 'e2')
  RETURNING :shown;
INSERT INTO calls SELECT 'cancel-2', * FROM ledger_cancel('zeta/batch-runner', pg_temp.rid('hold-2'),
                                                         'c2', '{"why": "done"}')
  RETURNING :shown;
SELECT pg_temp.try(format($$SELECT ledger_extend('zeta/batch-runner', %L, '1 minute', 'e3')$$,
                          pg_temp.rid('hold-2')));
SELECT * FROM pg_temp.bal('zeta/batch-runner');

-- ---------------------------------------------------------------- expiry (a real second)

INSERT INTO calls SELECT 'short', * FROM ledger_reserve('initech/agent-1', 400, '1 second', 'short')
  RETURNING :shown;
SELECT pg_sleep(1.2);
-- Lapsed: no longer counted, and settling it fails with LB005.
SELECT * FROM pg_temp.bal('initech/agent-1');
SELECT state FROM ledger_reservation('initech/agent-1', pg_temp.rid('short'));
SELECT pg_temp.try(format($$SELECT ledger_settle('initech/agent-1', %L, 1, 'late')$$,
                          pg_temp.rid('short')));
-- ledger_expire() writes its refund: one hold over the whole cluster.
SELECT ledger_expire() AS expired;
SELECT ledger_expire() AS expired_again;
SELECT pg_temp.try($$SELECT ledger_expire(0)$$);

-- ---------------------------------------------------------------- batches over four tenants

CREATE TEMP TABLE rows AS
  SELECT ''::text AS batch, * FROM ledger_reserve_batch('{}', '{}', '{}', '{}') WITH NO DATA;
\set brow 'batch, ordinal, sqlstate, message, wallet_id, seq, kind, amount, balance, reserved, available, expires_at - at AS ttl, replayed'
-- Elements of the four partitions, interleaved; a refused element (LB001,
-- LB002, 22023) does not stop the others; two elements of one wallet are
-- decided in order.
INSERT INTO rows SELECT 'r1', * FROM ledger_reserve_batch(
  ARRAY['zeta/batch-runner', 'globex/ops', 'acme/research/agent-7', 'initech/agent-1',
        'zeta/batch-runner', 'acme/ghost', 'globex/ops', 'zeta/batch-runner'],
  ARRAY[100, 50, 500, 30, 200, 1, -5, 5000]::bigint[],
  ARRAY['1 minute', '2 minutes', '1 minute', '1 minute', '3 minutes', '1 minute',
        '1 minute', '1 minute']::interval[],
  ARRAY['b1', 'b1', 'b1', 'b1', 'b2', 'b1', 'b2', 'b3'],
  ARRAY[NULL, '{"n": 2}', NULL, NULL, NULL, NULL, NULL, NULL]::jsonb[])
  RETURNING :brow;
-- The retry replays every element that was applied and refuses the others again.
INSERT INTO rows SELECT 'r1-retry', * FROM ledger_reserve_batch(
  ARRAY['zeta/batch-runner', 'globex/ops', 'acme/research/agent-7', 'initech/agent-1',
        'zeta/batch-runner', 'acme/ghost', 'globex/ops', 'zeta/batch-runner'],
  ARRAY[100, 50, 500, 30, 200, 1, -5, 5000]::bigint[],
  ARRAY['1 minute', '2 minutes', '1 minute', '1 minute', '3 minutes', '1 minute',
        '1 minute', '1 minute']::interval[],
  ARRAY['b1', 'b1', 'b1', 'b1', 'b2', 'b1', 'b2', 'b3'],
  ARRAY[NULL, '{"n": 2}', NULL, NULL, NULL, NULL, NULL, NULL]::jsonb[])
  RETURNING batch, ordinal, sqlstate, seq, replayed;
SELECT o.ordinal, o.reservation_id = r.reservation_id AS same_hold, o.at = r.at AS same_at
  FROM rows o JOIN rows r USING (ordinal)
 WHERE o.batch = 'r1' AND r.batch = 'r1-retry' AND o.sqlstate = '00000' ORDER BY 1;
-- Settle them in one batch, with a wrong wallet (LB003) and an over-capture (LB006).
INSERT INTO rows SELECT 's1', * FROM ledger_settle_batch(
  ARRAY['globex/ops', 'zeta/batch-runner', 'initech/agent-1', 'zeta/batch-runner', 'acme'],
  ARRAY[(SELECT reservation_id FROM rows WHERE batch = 'r1' AND ordinal = 2),
        (SELECT reservation_id FROM rows WHERE batch = 'r1' AND ordinal = 1),
        (SELECT reservation_id FROM rows WHERE batch = 'r1' AND ordinal = 4),
        (SELECT reservation_id FROM rows WHERE batch = 'r1' AND ordinal = 5),
        (SELECT reservation_id FROM rows WHERE batch = 'r1' AND ordinal = 2)],
  ARRAY[50, 60, 31, 0, 1]::bigint[],
  ARRAY['bs1', 'bs1', 'bs1', 'bs2', 'bs1'])
  RETURNING :brow;
-- Calls refused as a whole, with the shard's SQLSTATE and message.
SELECT pg_temp.try($$SELECT * FROM ledger_reserve_batch(ARRAY['globex/ops', 'zeta/x'], ARRAY[1]::bigint[],
                                                        ARRAY['1 minute', '1 minute']::interval[], ARRAY['x', 'y'])$$);
SELECT pg_temp.try($$SELECT * FROM ledger_reserve_batch(NULL, ARRAY[1]::bigint[],
                                                        ARRAY['1 minute']::interval[], ARRAY['x'])$$);
SELECT pg_temp.try($$SELECT * FROM ledger_reserve_batch(ARRAY['globex/ops'], ARRAY[1]::bigint[],
                                                        ARRAY['1 minute']::interval[], ARRAY['x'],
                                                        ARRAY['{}', '{}']::jsonb[])$$);
SELECT pg_temp.try($$SELECT * FROM ledger_settle_batch(ARRAY[['globex/ops']], ARRAY[[gen_random_uuid()]],
                                                       ARRAY[[1]]::bigint[], ARRAY[['x']])$$);
SELECT pg_temp.try($$SELECT * FROM ledger_reserve_batch(array_fill('globex/ops'::text, ARRAY[10001]),
                                                        array_fill(1::bigint, ARRAY[10001]),
                                                        array_fill('1 minute'::interval, ARRAY[10001]),
                                                        ARRAY(SELECT 'k' || i FROM generate_series(1, 10001) i))$$);
SELECT count(*) AS empty_batch_rows FROM ledger_settle_batch('{}', '{}', '{}', '{}');

-- ---------------------------------------------------------------- reads

SELECT * FROM pg_temp.bal('globex/ops');
SELECT * FROM pg_temp.bal('initech/agent-1');
SELECT * FROM pg_temp.bal('acme/research/agent-7');
SELECT * FROM pg_temp.bal('zeta/batch-runner');
SELECT pg_temp.try($$SELECT ledger_balance('zeta/nobody')$$);
SELECT wallet_id, seq, kind, amount, idempotency_key, balance, reserved, metadata
  FROM ledger_history('zeta/batch-runner') ORDER BY seq;
SELECT seq, kind FROM ledger_history('zeta/batch-runner', 2, 2);
SELECT pg_temp.try($$SELECT * FROM ledger_history('zeta/batch-runner', 0, 0)$$);
-- Consistent everywhere.
SELECT * FROM ledger_verify();
SELECT * FROM ledger_verify('acme/research/agent-7');
SELECT pg_temp.try($$SELECT * FROM ledger_verify('acme/none')$$);
