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
\echo '12. A fleet: org acme funds 500, team acme/research 300, agents share the team''s budget.'
SELECT wallet_id FROM ledger_create_wallet('acme');
SELECT wallet_id FROM ledger_create_wallet('acme/research');
SELECT wallet_id FROM ledger_create_wallet('acme/research/agent-1', capped => false);
SELECT wallet_id FROM ledger_create_wallet('acme/research/agent-2', capped => false);
SELECT kind, amount, balance FROM ledger_credit('acme', 500, 'budget');
SELECT kind, amount, balance FROM ledger_credit('acme/research', 300, 'budget');
SELECT * FROM ledger_set_limit('acme/research', 'minute', NULL, 3);

\echo
\echo '13. Each agent holds 100: the hold counts at the agent, the team and the org.'
SELECT kind, amount, available FROM ledger_reserve('acme/research/agent-1', 100, '1 minute', 'a1-call');
SELECT kind, amount, available FROM ledger_reserve('acme/research/agent-2', 100, '1 minute', 'a2-call');
SELECT b.wallet_id, b.balance, b.reserved, b.available
  FROM unnest(ARRAY['acme', 'acme/research', 'acme/research/agent-1']) w, ledger_balance(w) b;

\echo
\echo '14. A third hold of 150 does not fit the team''s 100 left: refused, with the reason.'
\set VERBOSITY verbose
\set ON_ERROR_STOP off
SELECT ledger_reserve('acme/research/agent-1', 150, '1 minute', 'a1-call-2');
\echo
\echo '15. The team allows 3 requests a minute: a fourth is refused whatever it costs.'
SELECT kind, amount FROM ledger_reserve('acme/research/agent-2', 10, '1 minute', 'a2-call-2');
SELECT ledger_reserve('acme/research/agent-1', 10, '1 minute', 'a1-call-3');
\set ON_ERROR_STOP on
\set VERBOSITY default

\echo
\echo '16. Verify every balance against its entries: no rows means no discrepancy.'
SELECT * FROM ledger_verify();
