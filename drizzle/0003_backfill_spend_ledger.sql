-- The spend ledger (tenant_spend_minutes) starts from the executions already stored, so the budget
-- pack's rolling window (MC_BUDGET_WINDOW_HOURS, at most 31 days here) counts them after upgrade:
-- finished runs at their cost, unfinished ones at their estimate, as server/policy/spend-ledger.ts does.
INSERT INTO tenant_spend_minutes (tenant_id, minute, shard, amount_usd)
SELECT tenant_id, date_trunc('minute', created_at), 0,
       sum(CASE WHEN finished_at IS NULL THEN cost_estimate_usd ELSE cost_usd END)
FROM executions
WHERE created_at >= now() - interval '31 days'
GROUP BY tenant_id, date_trunc('minute', created_at)
ON CONFLICT (tenant_id, minute, shard) DO NOTHING;
