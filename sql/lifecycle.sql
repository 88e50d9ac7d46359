-- The wallet lifecycle: create, credit, debit, reserve, settle, cancel and
-- extend, with what ledger_balance, ledger_reservation and ledger_history
-- report after each step.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS baseledger CASCADE;
CREATE EXTENSION baseledger;
RESET client_min_messages;
SET search_path = ledger, public;

-- Runs a statement and reports 'ok' or its SQLSTATE and message.
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- A wallet's balance without its as_of time.
CREATE FUNCTION pg_temp.bal(w text)
  RETURNS TABLE (balance bigint, reserved bigint, available bigint,
                 active_reservations integer, last_seq bigint)
  LANGUAGE sql AS $$
  SELECT balance, reserved, available, active_reservations, last_seq FROM ledger.ledger_balance(w)
$$;

-- Every write's ledger_result is kept here under a label; the columns shown
-- leave out the uuids and times, which differ from run to run.
CREATE TEMP TABLE calls (label text PRIMARY KEY, LIKE ledger.ledger_result);
\set shown 'label, wallet_id, seq, kind, amount, balance, reserved, available, reservation_id IS NOT NULL AS has_rid, expires_at - at AS ttl, replayed'
-- Reservation ids by the label of the call that made them.
CREATE TEMP VIEW holds AS
  SELECT label AS hold, reservation_id FROM calls WHERE kind = 'reserve' AND NOT replayed;
CREATE FUNCTION pg_temp.rid(hold text) RETURNS uuid LANGUAGE sql AS $$
  SELECT reservation_id FROM pg_temp.holds WHERE hold = $1
$$;

-- ---------------------------------------------------------------- wallets

-- A new wallet: unit 'credits' by default, everything zero, no events.
SELECT wallet_id, unit, balance, reserved, available, active_reservations, last_seq,
       as_of IS NOT NULL AS has_as_of
  FROM ledger_create_wallet('lc-agent-1');
SELECT wallet_id, unit, metadata, last_at IS NULL AS no_event_yet FROM ledger.wallets;
SELECT count(*) AS events FROM ledger.events;

-- A wallet with its own unit and metadata.
SELECT wallet_id, unit, balance, reserved, available, active_reservations, last_seq
  FROM ledger_create_wallet('lc-agent-2', 'usd_cents', '{"owner": "team-a", "tier": 2}');
SELECT wallet_id, unit, metadata FROM ledger.wallets WHERE wallet_id = 'lc-agent-2';

-- ---------------------------------------------------------------- credit

INSERT INTO calls SELECT 'credit-1', * FROM ledger_credit('lc-agent-1', 1000, 'topup-1')
  RETURNING :shown;
SELECT at IS NOT NULL AS has_at, expires_at IS NULL AS no_expiry, reservation_id IS NULL AS no_rid
  FROM calls WHERE label = 'credit-1';
SELECT * FROM pg_temp.bal('lc-agent-1');

-- Creating the wallet again with the same unit returns it as it is now,
-- unchanged: no event, balance kept, metadata not replaced.
SELECT wallet_id, unit, balance, reserved, available, active_reservations, last_seq
  FROM ledger_create_wallet('lc-agent-1');
SELECT wallet_id, unit, balance, reserved, available, active_reservations, last_seq
  FROM ledger_create_wallet('lc-agent-1', 'credits', '{"ignored": true}');
SELECT wallet_id, unit, balance
  FROM ledger_create_wallet('lc-agent-2', 'usd_cents', '{"owner": "team-b"}');
SELECT wallet_id, metadata FROM ledger.wallets ORDER BY wallet_id;
SELECT count(*) AS events FROM ledger.events;
-- ... and with another unit it is refused.
SELECT pg_temp.try($$SELECT ledger_create_wallet('lc-agent-1', 'usd')$$);
SELECT pg_temp.try($$SELECT ledger_create_wallet('lc-agent-2')$$);
SELECT wallet_id, unit FROM ledger.wallets ORDER BY wallet_id;

-- ---------------------------------------------------------------- debit

INSERT INTO calls SELECT 'debit-1', * FROM ledger_debit('lc-agent-1', 150, 'charge-1',
                                                        '{"model": "small"}')
  RETURNING :shown;
SELECT * FROM pg_temp.bal('lc-agent-1');

-- ---------------------------------------------------------------- reserve, then settle

-- A hold: reserved goes up, available down, the balance stays.
INSERT INTO calls SELECT 'hold-1', * FROM ledger_reserve('lc-agent-1', 300, '1 hour', 'call-1')
  RETURNING :shown;
SELECT * FROM pg_temp.bal('lc-agent-1');
SELECT r.state, r.amount, r.captured, r.wallet_id,
       r.expires_at = c.expires_at AS expires_as_reserved,
       r.created_at = c.at AS created_at_reserve, r.updated_at = c.at AS updated_at_reserve
  FROM calls c, ledger_reservation('lc-agent-1', c.reservation_id) r
 WHERE c.label = 'hold-1';

-- Partial capture: 120 of the 300 held is charged, the other 180 is released.
INSERT INTO calls SELECT 'settle-1', * FROM ledger_settle('lc-agent-1', pg_temp.rid('hold-1'), 120,
                                                          'settle-1', '{"tokens": 1234}')
  RETURNING :shown;
SELECT s.reservation_id = h.reservation_id AS same_rid, s.expires_at IS NULL AS no_expiry
  FROM calls s, holds h WHERE s.label = 'settle-1' AND h.hold = 'hold-1';
SELECT * FROM pg_temp.bal('lc-agent-1');
SELECT r.state, r.amount, r.captured, r.updated_at = s.at AS updated_at_settle
  FROM holds h, calls s, ledger_reservation('lc-agent-1', h.reservation_id) r
 WHERE h.hold = 'hold-1' AND s.label = 'settle-1';

-- Capture 0: nothing charged, the whole hold released.
INSERT INTO calls SELECT 'hold-2', * FROM ledger_reserve('lc-agent-1', 200, '30 minutes', 'call-2')
  RETURNING :shown;
INSERT INTO calls SELECT 'settle-2', * FROM ledger_settle('lc-agent-1', pg_temp.rid('hold-2'), 0,
                                                          'settle-2')
  RETURNING :shown;
SELECT r.state, r.amount, r.captured
  FROM holds h, ledger_reservation('lc-agent-1', h.reservation_id) r WHERE h.hold = 'hold-2';

-- Capture of exactly the amount held.
INSERT INTO calls SELECT 'hold-3', * FROM ledger_reserve('lc-agent-1', 100, '1 hour', 'call-3')
  RETURNING :shown;
INSERT INTO calls SELECT 'settle-3', * FROM ledger_settle('lc-agent-1', pg_temp.rid('hold-3'), 100,
                                                          'settle-3')
  RETURNING :shown;
SELECT r.state, r.amount, r.captured
  FROM holds h, ledger_reservation('lc-agent-1', h.reservation_id) r WHERE h.hold = 'hold-3';
SELECT * FROM pg_temp.bal('lc-agent-1');

-- ---------------------------------------------------------------- cancel

INSERT INTO calls SELECT 'hold-4', * FROM ledger_reserve('lc-agent-1', 50, '1 hour', 'call-4')
  RETURNING :shown;
SELECT * FROM pg_temp.bal('lc-agent-1');
-- The cancel event carries the amount released.
INSERT INTO calls SELECT 'cancel-4', * FROM ledger_cancel('lc-agent-1', pg_temp.rid('hold-4'),
                                                          'cancel-4', '{"reason": "aborted"}')
  RETURNING :shown;
SELECT * FROM pg_temp.bal('lc-agent-1');
SELECT r.state, r.amount, r.captured
  FROM holds h, ledger_reservation('lc-agent-1', h.reservation_id) r WHERE h.hold = 'hold-4';

-- ---------------------------------------------------------------- extend

INSERT INTO calls SELECT 'hold-5', * FROM ledger_reserve('lc-agent-1', 80, '10 minutes', 'call-5')
  RETURNING :shown;
-- The heartbeat: expires_at becomes the extend's time + ttl; no funds move.
INSERT INTO calls SELECT 'extend-5', * FROM ledger_extend('lc-agent-1', pg_temp.rid('hold-5'),
                                                          '2 hours', 'beat-5')
  RETURNING :shown;
SELECT e.expires_at > r.expires_at AS later_than_before, e.reservation_id = r.reservation_id AS same_rid
  FROM calls e, calls r WHERE e.label = 'extend-5' AND r.label = 'hold-5';
SELECT r.state, r.amount, r.captured, r.expires_at = e.expires_at AS expires_as_extended,
       r.updated_at = e.at AS updated_at_extend
  FROM calls e, holds h, ledger_reservation('lc-agent-1', h.reservation_id) r
 WHERE e.label = 'extend-5' AND h.hold = 'hold-5';
-- A shorter ttl is allowed too: the hold now ends 5 minutes after this call.
INSERT INTO calls SELECT 'extend-5b', * FROM ledger_extend('lc-agent-1', pg_temp.rid('hold-5'),
                                                           '5 minutes', 'beat-5b')
  RETURNING :shown;
SELECT * FROM pg_temp.bal('lc-agent-1');
SELECT r.state, r.expires_at = e.expires_at AS expires_as_extended
  FROM calls e, holds h, ledger_reservation('lc-agent-1', h.reservation_id) r
 WHERE e.label = 'extend-5b' AND h.hold = 'hold-5';

-- ---------------------------------------------------------------- available never below zero

SELECT ledger_create_wallet('lc-tight') IS NOT NULL AS created;
INSERT INTO calls SELECT 'tight-credit', * FROM ledger_credit('lc-tight', 100, 'c1')
  RETURNING :shown;
INSERT INTO calls SELECT 'tight-hold', * FROM ledger_reserve('lc-tight', 100, '1 hour', 'r1')
  RETURNING :shown;
SELECT * FROM pg_temp.bal('lc-tight');
-- Nothing is left to spend or hold.
SELECT pg_temp.try($$SELECT ledger_debit('lc-tight', 1, 'd1')$$);
SELECT pg_temp.try($$SELECT ledger_reserve('lc-tight', 1, '1 hour', 'r2')$$);
SELECT * FROM pg_temp.bal('lc-tight');
-- Releasing the hold frees it all; a debit of exactly the balance empties the wallet.
INSERT INTO calls SELECT 'tight-cancel', * FROM ledger_cancel('lc-tight', pg_temp.rid('tight-hold'), 'x1')
  RETURNING :shown;
INSERT INTO calls SELECT 'tight-debit', * FROM ledger_debit('lc-tight', 100, 'd2')
  RETURNING :shown;
SELECT pg_temp.try($$SELECT ledger_debit('lc-tight', 1, 'd3')$$);
SELECT * FROM pg_temp.bal('lc-tight');
-- Not one result, stored balance or event ever showed a negative available.
SELECT count(*) FILTER (WHERE available < 0) AS negative_results FROM calls;
SELECT count(*) FILTER (WHERE balance - reserved < 0) AS negative_events FROM ledger.events;
SELECT count(*) FILTER (WHERE balance - reserved < 0) AS negative_wallets FROM ledger.wallets;

-- ---------------------------------------------------------------- history

-- All events of the wallet in seq order, each with its key, the balances
-- after it and its metadata; the reservation is shown by its hold's label.
SELECT h.wallet_id, h.seq, h.kind, h.amount, hd.hold, h.idempotency_key, h.balance, h.reserved,
       h.metadata
  FROM ledger_history('lc-agent-1') h LEFT JOIN holds hd USING (reservation_id)
 ORDER BY h.seq;
-- The history is returned in seq order without an ORDER BY, and the times
-- are those of the results.
SELECT array_agg(seq) AS seqs FROM ledger_history('lc-agent-1');
SELECT bool_and(h.at = c.at) AS same_times, count(*) AS matched
  FROM ledger_history('lc-agent-1') h JOIN calls c ON c.wallet_id = h.wallet_id AND c.seq = h.seq;
-- The column set of a history row.
SELECT * FROM ledger_history('lc-agent-2');
-- Paging: after_seq and max_rows.
SELECT seq, kind FROM ledger_history('lc-agent-1', 2, 3);
SELECT seq, kind FROM ledger_history('lc-agent-1', 12, 100);
SELECT seq, kind FROM ledger_history('lc-agent-1', 13);
SELECT count(*) FROM ledger_history('lc-agent-1', 100, 5);
SELECT seq, kind FROM ledger_history('lc-agent-1', max_rows => 2);
-- The default page is 100 rows; the next page starts after the last seq seen.
SELECT ledger_create_wallet('lc-busy') IS NOT NULL AS created;
SELECT count(*) AS credits
  FROM generate_series(1, 105) i, ledger_credit('lc-busy', i, 'busy-' || i);
SELECT count(*), min(seq), max(seq), max(balance) FROM ledger_history('lc-busy');
SELECT count(*), min(seq), max(seq), max(balance) FROM ledger_history('lc-busy', 100);
SELECT count(*), min(seq), max(seq) FROM ledger_history('lc-busy', 0, 10000);
SELECT * FROM pg_temp.bal('lc-busy');

-- ---------------------------------------------------------------- the end state

SELECT wallet_id, unit, balance, reserved, available, active_reservations, last_seq
  FROM ledger_balance('lc-agent-1');
SELECT hd.hold, r.state, r.amount, r.captured
  FROM ledger.reservations r JOIN holds hd USING (reservation_id) ORDER BY hd.hold;
SELECT * FROM ledger_verify();
