-- Fills a ledger through the API of the oldest release (0.1.0), leaving every
-- kind of event and every state of hold behind: settled, cancelled, extended,
-- in force, and lapsed without its expire event yet (nothing sweeps it as
-- long as no pg_cron job runs ledger_expire() every minute). Used by
-- test/upgrade/run.sh before ALTER EXTENSION baseledger UPDATE, and by
-- test/dump_restore/run.sh before pg_dump.
\set ON_ERROR_STOP on
\set QUIET on
SET search_path = ledger, public;

SELECT 1 FROM ledger_create_wallet('up-org', 'credits', '{"plan": "team"}');
SELECT 1 FROM ledger_create_wallet('up-org/agent-1');
SELECT 1 FROM ledger_create_wallet('up-usd', 'usd_micros');
SELECT 1 FROM ledger_create_wallet('up-late');

SELECT 1 FROM ledger_credit('up-org', 100000, 'fund', '{"invoice": 17}');
SELECT 1 FROM ledger_credit('up-org/agent-1', 5000, 'fund');
SELECT 1 FROM ledger_credit('up-usd', 900000, 'fund');
SELECT 1 FROM ledger_debit('up-org/agent-1', 120, 'tool-call-1');

SELECT reservation_id AS settled FROM ledger_reserve('up-org/agent-1', 800, '10 minutes', 'call-1') \gset
SELECT 1 FROM ledger_settle('up-org/agent-1', :'settled', 333, 'call-1/settle', '{"tokens": 4100}');
SELECT reservation_id AS cancelled FROM ledger_reserve('up-org/agent-1', 200, '10 minutes', 'call-2') \gset
SELECT 1 FROM ledger_cancel('up-org/agent-1', :'cancelled', 'call-2/cancel');
SELECT reservation_id AS held FROM ledger_reserve('up-org/agent-1', 700, '1 hour', 'call-3') \gset
SELECT 1 FROM ledger_extend('up-org/agent-1', :'held', '2 hours', 'call-3/beat-1');

-- Batch calls exist in 0.1.0 too.
SELECT count(*) FILTER (WHERE sqlstate = '00000') AS batch_ok
  FROM ledger_reserve_batch(ARRAY['up-usd', 'up-usd'], ARRAY[1000, 2000]::bigint[],
                            ARRAY['1 hour', '1 hour']::interval[], ARRAY['b-1', 'b-2']) \gset
SELECT count(*) FILTER (WHERE sqlstate = '00000') AS settle_batch_ok
  FROM ledger_settle_batch(ARRAY['up-usd'],
                           ARRAY[(SELECT reservation_id FROM ledger.reservations
                                   WHERE wallet_id = 'up-usd' AND amount = 1000)],
                           ARRAY[999]::bigint[], ARRAY['b-1/settle']) \gset

-- A hold that lapsed an hour ago: its wallet's events all happen two hours
-- back on the ledger's clock.
SET baseledger.clock_offset = '-2h';
SELECT 1 FROM ledger_credit('up-late', 50, 'fund');
SELECT 1 FROM ledger_reserve('up-late', 40, '1 hour', 'late-call');
RESET baseledger.clock_offset;
