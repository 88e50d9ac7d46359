-- Loads the hierarchy workload's tree (baseledger 0.3.0 and later): the org
-- "org", :teams teams org/team-N and :agents agents under each team,
-- org/team-N/agent-M. Every level is capped (the default) and funded with
-- 10^15 units, so each reserve is checked against the funds of all three
-- levels and none ever runs out. Run by bench/run.sh with
-- psql -v teams=N -v agents=M, after setup.sql.
\set ON_ERROR_STOP 1

-- Parents before children: a child needs its parent.
SELECT (ledger.ledger_create_wallet('org')).wallet_id AS org_created;
SELECT count(*) AS teams_created
  FROM generate_series(1, :teams) t,
       ledger.ledger_create_wallet('org/team-' || t) w;
SELECT count(*) AS agents_created
  FROM generate_series(1, :teams) t, generate_series(1, :agents) a,
       ledger.ledger_create_wallet('org/team-' || t || '/agent-' || a) w;

-- Credits go only to the wallet credited: each level gets its own budget.
SELECT (ledger.ledger_credit('org', 1000000000000000, 'fund')).balance AS org_funded;
SELECT count(*) AS teams_funded
  FROM generate_series(1, :teams) t,
       ledger.ledger_credit('org/team-' || t, 1000000000000000, 'fund') c;
SELECT count(*) AS agents_funded
  FROM generate_series(1, :teams) t, generate_series(1, :agents) a,
       ledger.ledger_credit('org/team-' || t || '/agent-' || a, 1000000000000000, 'fund') c;

VACUUM ANALYZE ledger.wallets;
