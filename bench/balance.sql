-- A balance read on a random wallet.
\set w random(1, :wallets)
SELECT available FROM ledger.ledger_balance('w' || :w);
