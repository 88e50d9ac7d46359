-- The hot wallet: every client reserves and settles on the one wallet "hot",
-- two transactions per cycle as in cycle.sql.
\set n :n + 1
SELECT reservation_id AS rid FROM ledger.ledger_reserve('hot', 100, '12 hours', 'r' || :run || '-' || :client_id || '-' || :n) \gset
SELECT balance FROM ledger.ledger_settle('hot', :rid, 60, 's' || :run || '-' || :client_id || '-' || :n);
