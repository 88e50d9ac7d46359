-- The same reserve through the PL/pgSQL reference ledger (plpgsql_reference.sql).
\set n :n + 1
\set w random(1, :wallets)
SELECT reservation_id FROM plref.reserve('w' || :w, 100, '12 hours', 'r' || :run || '-' || :client_id || '-' || :n);
