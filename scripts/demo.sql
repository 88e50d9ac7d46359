-- An agent's budget, step by step. Run by scripts/demo.sh inside a throwaway
-- cluster: psql -v ON_ERROR_STOP=1 -f scripts/demo.sql
\set QUIET on
\pset footer off
CREATE EXTENSION baseledger;
SET search_path = ledger, public;
\set QUIET off

\echo
\echo '1. Open a wallet for agent-7.'
SELECT * FROM ledger_create_wallet('agent-7');

\echo
\echo '2. Top it up with 1000 credits.'
SELECT kind, amount, balance, reserved, available, replayed
  FROM ledger_credit('agent-7', 1000, 'topup-1');

\echo
\echo '3. Before a model call, hold 300 credits for at most 2 seconds.'
SELECT reservation_id AS rid
  FROM ledger_reserve('agent-7', 300, '2 seconds', 'call-1') \gset
SELECT * FROM ledger_reservation('agent-7', :'rid');

\echo
\echo '4. The call cost 120: settle the hold, the other 180 return to the budget.'
SELECT kind, amount, balance, reserved, available, replayed
  FROM ledger_settle('agent-7', :'rid', 120, 'settle-1');

\echo
\echo '5. A retry sends the same settle again: it is replayed, nothing is charged twice.'
SELECT kind, amount, balance, reserved, available, replayed
  FROM ledger_settle('agent-7', :'rid', 120, 'settle-1');

\echo
\echo '6. The balance after one charge of 120.'
SELECT * FROM ledger_balance('agent-7');

\echo
\echo '7. Hold 200 for a second call that will never report back: available drops.'
SELECT kind, amount, balance, reserved, available, expires_at, replayed
  FROM ledger_reserve('agent-7', 200, '1 second', 'call-2');

\echo
\echo '8. Wait 1.2 seconds, past the hold''s expiry.'
SELECT pg_sleep(1.2) \g /dev/null

\echo
\echo '9. The expired hold no longer counts: available is back before any sweep.'
SELECT * FROM ledger_balance('agent-7');

\echo
\echo '10. The sweep records the expiry in the ledger.'
SELECT * FROM ledger_expire() AS expired;

\echo
\echo '11. The wallet''s full history.'
SELECT * FROM ledger_history('agent-7');

\echo
\echo '12. Verify every balance against its entries: no rows means no discrepancy.'
SELECT * FROM ledger_verify();
