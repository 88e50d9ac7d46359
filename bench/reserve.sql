-- reserve on a random wallet; the idempotency key never repeats.
\set n :n + 1
\set w random(1, :wallets)
SELECT reservation_id FROM ledger.ledger_reserve('w' || :w, 100, '12 hours', 'r' || :run || '-' || :client_id || '-' || :n);
