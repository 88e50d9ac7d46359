-- A full reserve + settle cycle on a random wallet, as an agent makes it: the
-- reserve commits before the paid call and the settle commits after it, so a
-- cycle is two transactions (two durable commits).
\set n :n + 1
\set w random(1, :wallets)
SELECT reservation_id AS rid FROM ledger.ledger_reserve('w' || :w, 100, '12 hours', 'r' || :run || '-' || :client_id || '-' || :n) \gset
SELECT balance FROM ledger.ledger_settle('w' || :w, :rid, 60, 's' || :run || '-' || :client_id || '-' || :n);
