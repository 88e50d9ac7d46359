-- The wallet hierarchy: a wallet id is a path, 'hier/t1/a1' is a child of
-- 'hier/t1', itself a child of the root 'hier'. Creation rules (parent first,
-- same unit, at most 8 segments, uncapped wallets); a reserve, debit, settle,
-- cancel or expire writes one event at the wallet and one at every ancestor,
-- all with the same time; a reserve or debit must fit at every capped level
-- and a refusal names the first level, root first, that refused; uncapped
-- wallets track spending; credits only fund the wallet credited; lapsed holds
-- of a whole tree stop counting at once, are closed by the next write anywhere
-- in the tree or by ledger_expire(); retries replay in a tree; batches go
-- through the same path; ledger_verify() finds the tree consistent.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS baseledger CASCADE;
CREATE EXTENSION baseledger;
RESET client_min_messages;
SET search_path = ledger, public;
-- Only this file's ledger_expire() calls close holds here: the pg_cron sweep
-- is off while it runs (the next CREATE EXTENSION schedules it again).
SELECT ledger_unschedule_expiry() AS unscheduled;

-- The error of a statement: SQLSTATE, message and detail ('ok' when none).
CREATE FUNCTION pg_temp.error_of(q text, OUT code text, OUT message text, OUT detail text)
  LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  code := 'ok';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
                          detail = PG_EXCEPTION_DETAIL;
END $$;
-- Whether a text names a wallet id as a whole (not as part of a longer id).
CREATE FUNCTION pg_temp.names(t text, wallet text) RETURNS boolean LANGUAGE sql AS $$
  SELECT t ~ ('(^|[^A-Za-z0-9._:@/-])' || replace(wallet, '.', '\.') || '($|[^A-Za-z0-9._:@/-])')
$$;
-- Everything stored in the ledger's tables, as one value: equal before and
-- after a call means that the call wrote nothing.
CREATE FUNCTION pg_temp.state() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  t regclass;
  part text;
  acc text := '';
BEGIN
  FOR t IN SELECT c.oid FROM pg_class c
            WHERE c.relnamespace = 'ledger'::regnamespace AND c.relkind = 'r'
            ORDER BY c.relname LOOP
    EXECUTE format('SELECT md5(coalesce(string_agg(x::text, '';'' ORDER BY x::text), '''')) FROM %s x', t)
      INTO part;
    acc := acc || part;
  END LOOP;
  RETURN md5(acc);
END $$;
-- Balances of some wallets, in the order given, without the as_of time.
CREATE FUNCTION pg_temp.bal(VARIADIC ids text[])
  RETURNS TABLE (wallet_id text, balance bigint, reserved bigint, available bigint,
                 active_reservations integer, last_seq bigint)
  LANGUAGE sql AS $$
  SELECT b.wallet_id, b.balance, b.reserved, b.available, b.active_reservations, b.last_seq
    FROM unnest(ids) WITH ORDINALITY AS w(id, n), ledger.ledger_balance(w.id) b ORDER BY w.n
$$;
-- Every write's ledger_result under a label; holds are named by the label of their reserve.
CREATE TEMP TABLE calls (label text PRIMARY KEY, LIKE ledger.ledger_result);
\set shown 'label, wallet_id, seq, kind, amount, balance, reserved, available, replayed'
CREATE TEMP VIEW holds AS
  SELECT label AS hold, wallet_id, reservation_id FROM calls WHERE kind = 'reserve' AND NOT replayed;
CREATE FUNCTION pg_temp.rid(hold text) RETURNS uuid LANGUAGE sql AS $$
  SELECT reservation_id FROM pg_temp.holds WHERE hold = $1
$$;
-- What a reader sees of a hold now, what storage says, and its expire events.
CREATE FUNCTION pg_temp.hold_state(hold text)
  RETURNS TABLE (hold text, owner text, state text, stored_state text, expire_events bigint)
  LANGUAGE sql AS $$
  SELECT h.hold, h.wallet_id, r.state, s.state::text,
         (SELECT count(*) FROM ledger.events e
           WHERE e.reservation_id = h.reservation_id AND e.kind = 'expire')
    FROM pg_temp.holds h
   CROSS JOIN ledger.ledger_reservation(h.wallet_id, h.reservation_id) r
    JOIN ledger.reservations s ON s.reservation_id = h.reservation_id
   WHERE h.hold = $1
$$;
-- The events written since the last mark, in one tree, without their times:
-- step numbers the distinct event times, so the events of one step share it.
CREATE TEMP TABLE mark (wallet_id text PRIMARY KEY, seq bigint);
CREATE FUNCTION pg_temp.mark() RETURNS void LANGUAGE sql AS $$
  DELETE FROM pg_temp.mark;
  INSERT INTO pg_temp.mark SELECT wallet_id, last_seq FROM ledger.wallets;
$$;
CREATE FUNCTION pg_temp.new_events(root text)
  RETURNS TABLE (step bigint, wallet_id text, seq bigint, kind text, amount bigint, hold text,
                 idempotency_key text, balance bigint, reserved bigint)
  LANGUAGE sql AS $$
  SELECT dense_rank() OVER (ORDER BY e.at), e.wallet_id, e.seq, e.kind::text, e.amount, h.hold,
         e.idempotency_key, e.balance, e.reserved
    FROM ledger.events e
    LEFT JOIN pg_temp.mark m ON m.wallet_id = e.wallet_id
    LEFT JOIN pg_temp.holds h ON h.reservation_id = e.reservation_id
   WHERE e.seq > coalesce(m.seq, 0)
     AND (e.wallet_id = root OR e.wallet_id LIKE root || '/%')
   ORDER BY e.wallet_id COLLATE "C", e.seq
$$;
\set tree '''hier'', ''hier/t1'', ''hier/t1/a1'', ''hier/t1/a2'', ''hier/t2'', ''hier/t2/a3'', ''hier/t2/a4'''

-- ---------------------------------------------------------------- creation rules

SELECT pg_temp.state() AS before \gset
-- A child needs its parent (LB002, the detail names the parent) and the
-- parent's unit (22023); a root cannot be uncapped (22023).
SELECT label, e.code,
       CASE WHEN e.code IN ('LB002', '22023') AND label <> 'uncapped root' THEN e.message END AS message,
       pg_temp.names(e.detail, parent) AS detail_names_parent
  FROM (VALUES
    ('child before its parent', $$SELECT ledger_create_wallet('hier/t1')$$, 'hier'),
    ('grandchild before its parent', $$SELECT ledger_create_wallet('hier/none/a1')$$, 'hier/none'),
    ('uncapped root', $$SELECT ledger_create_wallet('hroot', capped => false)$$, NULL)
  ) AS t(label, q, parent), pg_temp.error_of(q) e;
SELECT pg_temp.state() = :'before' AS nothing_written;

-- The tree: capped root hier, capped team t1 with a capped agent a1 and an
-- uncapped agent a2, uncapped team t2 with an uncapped agent a3 and a capped
-- agent a4.
SELECT wallet_id, unit, balance, reserved, available, active_reservations, last_seq
  FROM ledger_create_wallet('hier');
SELECT e.code, e.message FROM pg_temp.error_of($$SELECT ledger_create_wallet('hier/t1', 'usd')$$) e;
SELECT wallet_id, unit, balance, reserved, available, active_reservations, last_seq
  FROM ledger_create_wallet('hier/t1');
SELECT wallet_id, unit, balance, reserved, active_reservations, last_seq
  FROM ledger_create_wallet('hier/t2', capped => false);
SELECT wallet_id, unit, balance, reserved, available, active_reservations, last_seq
  FROM ledger_create_wallet('hier/t1/a1');
SELECT wallet_id, unit, balance, reserved, active_reservations, last_seq
  FROM ledger_create_wallet('hier/t1/a2', 'credits', '{"role": "agent"}', false);
SELECT wallet_id, unit, balance, reserved, active_reservations, last_seq
  FROM ledger_create_wallet('hier/t2/a3', capped => false);
SELECT wallet_id, unit, balance, reserved, available, active_reservations, last_seq
  FROM ledger_create_wallet('hier/t2/a4');
SELECT p.wallet_id, p.capped
  FROM unnest(ARRAY[:tree]) WITH ORDINALITY AS w(id, n), ledger_policy(w.id) p ORDER BY w.n;

-- Creating an existing wallet alike returns it unchanged; with another unit
-- or another capped value it is 42710.
SELECT pg_temp.state() AS before \gset
SELECT wallet_id, unit, balance, last_seq FROM ledger_create_wallet('hier/t1');
SELECT wallet_id, unit, balance, last_seq FROM ledger_create_wallet('hier/t2', capped => false);
SELECT label, e.code FROM (VALUES
    ('uncapped wallet as capped', $$SELECT ledger_create_wallet('hier/t2')$$),
    ('capped wallet as uncapped', $$SELECT ledger_create_wallet('hier/t1', capped => false)$$),
    ('root in another unit', $$SELECT ledger_create_wallet('hier', 'usd')$$)
  ) AS t(label, q), pg_temp.error_of(q) e;
SELECT pg_temp.state() = :'before' AS nothing_written;

-- At most 8 segments: 22023 beyond.
SELECT array_length(string_to_array(c.wallet_id, '/'), 1) AS segments, c.wallet_id
  FROM (VALUES (1, 'hier/d2'), (2, 'hier/d2/d3'), (3, 'hier/d2/d3/d4'), (4, 'hier/d2/d3/d4/d5'),
               (5, 'hier/d2/d3/d4/d5/d6'), (6, 'hier/d2/d3/d4/d5/d6/d7'),
               (7, 'hier/d2/d3/d4/d5/d6/d7/d8')) AS w(n, id),
       LATERAL ledger_create_wallet(w.id) c
 ORDER BY w.n;
SELECT e.code FROM pg_temp.error_of($$SELECT ledger_create_wallet('hier/d2/d3/d4/d5/d6/d7/d8/d9')$$) e;
SELECT count(*) AS wallets_of_9_segments FROM ledger.wallets WHERE wallet_id LIKE '%/d9';

-- ---------------------------------------------------------------- credits

-- A credit writes one event, at the wallet credited only.
INSERT INTO calls SELECT 'fund hier', * FROM ledger_credit('hier', 1000, 'fund') RETURNING :shown;
INSERT INTO calls SELECT 'fund t1', * FROM ledger_credit('hier/t1', 300, 'fund') RETURNING :shown;
INSERT INTO calls SELECT 'fund a1', * FROM ledger_credit('hier/t1/a1', 100, 'fund') RETURNING :shown;
INSERT INTO calls SELECT 'fund a4', * FROM ledger_credit('hier/t2/a4', 50, 'fund') RETURNING :shown;
-- An uncapped wallet has no budget to credit: 55000.
SELECT pg_temp.state() AS before \gset
SELECT label, e.code, e.message FROM (VALUES
    ('uncapped team', $$SELECT ledger_credit('hier/t2', 10, 'fund')$$),
    ('uncapped agent', $$SELECT ledger_credit('hier/t1/a2', 10, 'fund')$$)
  ) AS t(label, q), pg_temp.error_of(q) e;
SELECT pg_temp.state() = :'before' AS nothing_written;
SELECT b.wallet_id, b.balance, b.reserved, b.active_reservations, b.last_seq
  FROM pg_temp.bal(:tree) b;

-- ---------------------------------------------------------------- events at every level

-- Each call below writes one event at its wallet (with its key) and one at
-- every ancestor (same kind, amount and hold, no key), all at one time, each
-- with that level's balance and reserved.
SELECT pg_temp.mark();
-- A hold of 60 by a1 (hier: 1000 reserved 60, t1: 300 reserved 60, a1: 100 reserved 60).
INSERT INTO calls SELECT 'r1', * FROM ledger_reserve('hier/t1/a1', 60, '1 hour', 'r1') RETURNING :shown;
-- A debit of 30 by the uncapped a2: its balance goes to -30 (t1: 270, hier: 970).
INSERT INTO calls SELECT 'd1', * FROM ledger_debit('hier/t1/a2', 30, 'd1') RETURNING :shown;
-- A hold of 200 by a3, uncapped under the uncapped t2: only hier bounds it.
INSERT INTO calls SELECT 'r2', * FROM ledger_reserve('hier/t2/a3', 200, '1 hour', 'r2') RETURNING :shown;
-- a1 captures 45 of its 60 (a1: 55, t1: 225, hier: 925).
INSERT INTO calls SELECT 's1', * FROM ledger_settle('hier/t1/a1', pg_temp.rid('r1'), 45, 's1')
  RETURNING :shown;
-- a3 releases its 200 at every level.
INSERT INTO calls SELECT 'c2', * FROM ledger_cancel('hier/t2/a3', pg_temp.rid('r2'), 'c2')
  RETURNING :shown;
-- A hold of 20 by a4, capped under the uncapped t2.
INSERT INTO calls SELECT 'r3', * FROM ledger_reserve('hier/t2/a4', 20, '1 hour', 'r3') RETURNING :shown;
SELECT * FROM pg_temp.new_events('hier');
-- Every level's reserved and active_reservations count the open holds of its
-- subtree (only r3 now); uncapped wallets have no budget and show what their
-- subtree spent.
SELECT * FROM pg_temp.bal(:tree);
-- The reservation rows live at their owners only: an ancestor does not know
-- the hold by its id (LB003).
SELECT h.hold, r.wallet_id, r.state, r.amount, r.captured
  FROM ledger.reservations r JOIN holds h USING (reservation_id) ORDER BY h.hold;
SELECT label, e.code, e.message FROM (VALUES
    ('read r1 at hier', $$SELECT ledger_reservation('hier', pg_temp.rid('r1'))$$),
    ('read r3 at hier/t2', $$SELECT ledger_reservation('hier/t2', pg_temp.rid('r3'))$$),
    ('settle r3 at hier/t2', $$SELECT ledger_settle('hier/t2', pg_temp.rid('r3'), 1, 'k')$$),
    ('cancel r3 at hier', $$SELECT ledger_cancel('hier', pg_temp.rid('r3'), 'k')$$)
  ) AS t(label, q), pg_temp.error_of(q) e;
-- A call locks every wallet of its path: three advisory locks for a1.
BEGIN;
SELECT kind, amount FROM ledger_debit('hier/t1/a1', 5, 'locks');
SELECT count(*) AS ledger_locks FROM pg_locks
 WHERE locktype = 'advisory' AND objsubid = 19522 AND pid = pg_backend_pid() AND granted;
ROLLBACK;

-- ---------------------------------------------------------------- caps

-- A reserve or debit must fit at every capped level; the refusal (LB001)
-- names the first level, root first, that refused. Available now: hier 905,
-- t1 225, a1 55, a4 30; t2, a2 and a3 are uncapped.
SELECT pg_temp.state() AS before \gset
SELECT label, e.code, e.message, e.detail FROM (VALUES
    ('agent a1', $$SELECT ledger_reserve('hier/t1/a1', 56, '1 hour', 'cap-1')$$),
    ('team t1 for the uncapped a2', $$SELECT ledger_debit('hier/t1/a2', 226, 'cap-2')$$),
    ('hier for a3 under uncapped t2', $$SELECT ledger_reserve('hier/t2/a3', 906, '1 hour', 'cap-3')$$),
    ('hier before t1', $$SELECT ledger_debit('hier/t1/a2', 1000, 'cap-4')$$),
    ('hier before t1 and a1', $$SELECT ledger_reserve('hier/t1/a1', 2000, '1 hour', 'cap-5')$$),
    ('t1 before a1', $$SELECT ledger_debit('hier/t1/a1', 300, 'cap-6')$$),
    ('agent a4 under uncapped t2', $$SELECT ledger_debit('hier/t2/a4', 31, 'cap-7')$$)
  ) AS t(label, q), pg_temp.error_of(q) e;
SELECT pg_temp.state() = :'before' AS nothing_written;
-- What exactly fits at every level is accepted.
INSERT INTO calls SELECT 'fit-a1', * FROM ledger_reserve('hier/t1/a1', 55, '1 hour', 'fit-a1')
  RETURNING :shown;
SELECT * FROM pg_temp.bal('hier', 'hier/t1', 'hier/t1/a1');
INSERT INTO calls SELECT 'fit-a1 cancel', * FROM ledger_cancel('hier/t1/a1', pg_temp.rid('fit-a1'), 'fit-a1 cancel')
  RETURNING :shown;

-- Uncapped wallets track spending: a3 and t2 go below zero, hier is charged.
INSERT INTO calls SELECT 'spend a3', * FROM ledger_debit('hier/t2/a3', 100, 'spend') RETURNING :shown;
SELECT * FROM pg_temp.bal('hier', 'hier/t2', 'hier/t2/a3');

-- ---------------------------------------------------------------- credits to children

-- Crediting t1 allocates budget to t1 only: hier keeps its balance ...
SELECT pg_temp.mark();
INSERT INTO calls SELECT 'top-up t1', * FROM ledger_credit('hier/t1', 5000, 'top-up') RETURNING :shown;
SELECT * FROM pg_temp.new_events('hier');
SELECT * FROM pg_temp.bal('hier', 'hier/t1');
-- ... and still bounds the whole subtree: t1 has 5225 available, hier 805.
SELECT e.code, e.message, e.detail
  FROM pg_temp.error_of($$SELECT ledger_debit('hier/t1/a2', 900, 'big')$$) e;
INSERT INTO calls SELECT 'fit-hier', * FROM ledger_reserve('hier/t1/a2', 805, '1 hour', 'fit-hier')
  RETURNING :shown;
SELECT * FROM pg_temp.bal('hier', 'hier/t1', 'hier/t1/a2');
INSERT INTO calls SELECT 'fit-hier cancel', * FROM ledger_cancel('hier/t1/a2', pg_temp.rid('fit-hier'), 'fit-hier cancel')
  RETURNING :shown;

-- ---------------------------------------------------------------- expiry across the tree

-- e1 (a1, 9 minutes) and e2 (a3, 10 minutes) lapse; e3 (a2, 1 hour) lives.
INSERT INTO calls SELECT 'e1', * FROM ledger_reserve('hier/t1/a1', 30, '9 minutes', 'e1') RETURNING :shown;
INSERT INTO calls SELECT 'e2', * FROM ledger_reserve('hier/t2/a3', 100, '10 minutes', 'e2') RETURNING :shown;
INSERT INTO calls SELECT 'e3', * FROM ledger_reserve('hier/t1/a2', 40, '1 hour', 'e3') RETURNING :shown;
SELECT * FROM pg_temp.bal(:tree);

-- 11 minutes on, before any sweep: every level's reads leave out the lapsed
-- holds of its subtree (hier: 60 reserved, r3 and e3; t1: 40; t2: 20).
SET baseledger.clock_offset = '11min';
SELECT * FROM pg_temp.bal(:tree);
SELECT s.* FROM unnest(ARRAY['e1', 'e2', 'e3']) h, pg_temp.hold_state(h) s;
SELECT count(*) AS expire_events FROM ledger.events WHERE kind = 'expire';
-- The next write anywhere in the tree, here a debit of 5 by a4 (another
-- branch than a1), first closes every lapsed hold of the tree: an expire
-- event for e1 at a1, t1 and hier, one for e2 at a3, t2 and hier, then the
-- debit at a4, t2 and hier.
SELECT pg_temp.mark();
INSERT INTO calls SELECT 'late', * FROM ledger_debit('hier/t2/a4', 5, 'late') RETURNING :shown;
SELECT * FROM pg_temp.new_events('hier');
SELECT s.* FROM unnest(ARRAY['e1', 'e2', 'e3']) h, pg_temp.hold_state(h) s;
SELECT * FROM pg_temp.bal(:tree);
-- The closed holds refuse a settle with LB005.
SELECT e.code, e.message
  FROM pg_temp.error_of($$SELECT ledger_settle('hier/t1/a1', pg_temp.rid('e1'), 1, 'late-settle')$$) e;

-- ---------------------------------------------------------------- ledger_expire over a tree

-- Three holds of 10 that lapse in 10 minutes, in three branches, and one in
-- another tree.
SELECT wallet_id FROM ledger_create_wallet('hiex');
SELECT wallet_id FROM ledger_create_wallet('hiex/a', capped => false);
INSERT INTO calls SELECT 'fund hiex', * FROM ledger_credit('hiex', 10, 'fund') RETURNING :shown;
INSERT INTO calls SELECT 'f1', * FROM ledger_reserve('hier/t1/a1', 10, '10 minutes', 'f1') RETURNING :shown;
INSERT INTO calls SELECT 'f2', * FROM ledger_reserve('hier/t2/a4', 10, '10 minutes', 'f2') RETURNING :shown;
INSERT INTO calls SELECT 'f3', * FROM ledger_reserve('hier/t1/a2', 10, '10 minutes', 'f3') RETURNING :shown;
INSERT INTO calls SELECT 'f4', * FROM ledger_reserve('hiex/a', 5, '10 minutes', 'f4') RETURNING :shown;
SET baseledger.clock_offset = '22min';
SELECT * FROM pg_temp.bal(:tree);
SELECT * FROM pg_temp.bal('hiex', 'hiex/a');
-- The sweep closes the four holds, each with an expire event at its owner
-- and at every ancestor, all at one time.
SELECT pg_temp.mark();
SELECT ledger_expire() AS expired;
SELECT wallet_id, seq, kind, amount, idempotency_key, balance, reserved
  FROM (SELECT * FROM pg_temp.new_events('hier') UNION ALL SELECT * FROM pg_temp.new_events('hiex')) e
 ORDER BY wallet_id COLLATE "C", seq;
SELECT h.hold, count(*) AS expire_events, count(DISTINCT e.at) AS times,
       string_agg(e.wallet_id, ', ' ORDER BY e.wallet_id COLLATE "C") AS wallets
  FROM ledger.events e JOIN holds h USING (reservation_id)
 WHERE e.kind = 'expire' AND h.hold IN ('f1', 'f2', 'f3', 'f4')
 GROUP BY h.hold ORDER BY h.hold;
SELECT ledger_expire() AS expired;
SELECT * FROM pg_temp.bal(:tree);
SELECT * FROM pg_temp.bal('hiex', 'hiex/a');

-- ---------------------------------------------------------------- retries in a tree

-- A retry replays the original result (the balances as they were then) and
-- writes nothing at any level.
SELECT pg_temp.state() AS before \gset
INSERT INTO calls SELECT 'r1 again', * FROM ledger_reserve('hier/t1/a1', 60, '1 hour', 'r1') RETURNING :shown;
INSERT INTO calls SELECT 'd1 again', * FROM ledger_debit('hier/t1/a2', 30, 'd1') RETURNING :shown;
INSERT INTO calls SELECT 's1 again', * FROM ledger_settle('hier/t1/a1', pg_temp.rid('r1'), 45, 's1')
  RETURNING :shown;
INSERT INTO calls SELECT 'c2 again', * FROM ledger_cancel('hier/t2/a3', pg_temp.rid('r2'), 'c2')
  RETURNING :shown;
SELECT a.label, (o.seq, o.reservation_id, o.amount, o.balance, o.reserved, o.available, o.at)
                IS NOT DISTINCT FROM
                (a.seq, a.reservation_id, a.amount, a.balance, a.reserved, a.available, a.at) AS same_result
  FROM calls a JOIN calls o ON o.label = split_part(a.label, ' ', 1)
 WHERE a.label LIKE '% again' ORDER BY a.label;
-- The same key with other arguments: LB007.
SELECT label, e.code, e.message FROM (VALUES
    ('r1 for 61', $$SELECT ledger_reserve('hier/t1/a1', 61, '1 hour', 'r1')$$),
    ('s1 for 44', $$SELECT ledger_settle('hier/t1/a1', pg_temp.rid('r1'), 44, 's1')$$),
    ('d1 as a reserve', $$SELECT ledger_reserve('hier/t1/a2', 30, '1 hour', 'd1')$$)
  ) AS t(label, q), pg_temp.error_of(q) e;
SELECT pg_temp.state() = :'before' AS nothing_written;
-- Keys belong to the owner: a2 may use the key r1 of a1, and the keyless
-- ancestor events do not collide.
INSERT INTO calls SELECT 'r1 of a2', * FROM ledger_reserve('hier/t1/a2', 5, '1 hour', 'r1') RETURNING :shown;
INSERT INTO calls SELECT 'r1 of a2 cancel', * FROM ledger_cancel('hier/t1/a2', pg_temp.rid('r1 of a2'), 'r1 cancel')
  RETURNING :shown;

-- ---------------------------------------------------------------- batches

-- Batch elements in a tree go through the same path as single calls: events
-- at every level, and refusals naming the level. hier has 760 available.
SELECT pg_temp.mark();
SELECT ordinal, sqlstate, message, wallet_id, seq, kind, amount, balance, reserved
  FROM ledger_reserve_batch(ARRAY['hier/t1/a1', 'hier/t2/a3', 'hier/t2/a4'], ARRAY[5, 10, 1000]::bigint[],
                            ARRAY['1 hour', '1 hour', '1 hour']::interval[], ARRAY['b1', 'b2', 'b3']);
SELECT wallet_id, seq, kind, amount, idempotency_key, balance, reserved FROM pg_temp.new_events('hier');

-- ---------------------------------------------------------------- consistency

-- Within each wallet seq goes up by 1 and at strictly increases.
SELECT wallet_id, count(*) AS events,
       bool_and(seq = prev_seq + 1 OR prev_seq IS NULL AND seq = 1) AS seq_by_one,
       bool_and(at > prev_at OR prev_at IS NULL) AS at_increases
  FROM (SELECT wallet_id, seq, at, lag(seq) OVER w AS prev_seq, lag(at) OVER w AS prev_at
          FROM ledger.events WINDOW w AS (PARTITION BY wallet_id ORDER BY seq)) e
 GROUP BY wallet_id ORDER BY wallet_id COLLATE "C";
SELECT * FROM ledger_verify();

-- ---------------------------------------------------------------- a heartbeat

-- An extend moves no funds, but the hold's new expires_at is written at every
-- level like the hold itself, so each wallet's history replays on its own.
SELECT wallet_id FROM ledger_create_wallet('hibeat');
SELECT wallet_id FROM ledger_create_wallet('hibeat/a', capped => false);
INSERT INTO calls SELECT 'fund hibeat', * FROM ledger_credit('hibeat', 100, 'fund') RETURNING :shown;
INSERT INTO calls SELECT 'r4', * FROM ledger_reserve('hibeat/a', 20, '1 hour', 'r4') RETURNING :shown;
SELECT pg_temp.mark();
INSERT INTO calls SELECT 'x4', * FROM ledger_extend('hibeat/a', pg_temp.rid('r4'), '2 hours', 'x4')
  RETURNING :shown;
SELECT * FROM pg_temp.new_events('hibeat');
SELECT * FROM pg_temp.bal('hibeat', 'hibeat/a');
SELECT * FROM ledger_verify();
RESET baseledger.clock_offset;
