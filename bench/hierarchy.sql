-- The hierarchy workload: one org, :teams teams, :agents agents per team
-- (org/team-N/agent-M, loaded by hierarchy_setup.sql). Each client reserves
-- and settles on a random agent, two transactions per cycle as in cycle.sql.
-- Every call writes an event at the agent, its team and the org, and takes
-- the locks of all three, the org's first: the whole tree is one hot wallet.
\set n :n + 1
\set t random(1, :teams)
\set a random(1, :agents)
SELECT reservation_id AS rid FROM ledger.ledger_reserve('org/team-' || :t || '/agent-' || :a, 100, '12 hours', 'r' || :run || '-' || :client_id || '-' || :n) \gset
SELECT balance FROM ledger.ledger_settle('org/team-' || :t || '/agent-' || :a, :rid, 60, 's' || :run || '-' || :client_id || '-' || :n);
