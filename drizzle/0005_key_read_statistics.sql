-- The tables that grow with every execution are read by key (an execution's id, a tenant's
-- newest rows, a status among a handful): their plans need each column's distinct count, most
-- common values and a coarse histogram, which a 3,000-row sample gives (statistics target 10).
-- At the default target (100) every ANALYZE samples 30,000 rows of each, and autovacuum analyzes
-- them again at every 10 % of growth: 1.3 s of a core for one pass over these tables with ~36,000
-- executions stored, 0.11 s at 10 (measured 2026-11-25; docs/performance.md). Under load that pass
-- was the largest cause of publish→start spikes. SET STATISTICS takes no lock that blocks reads or
-- writes. A later migration that adds a column to one of these tables sets it too
-- (tests/integration/statistics-targets.test.ts).
DO $$
DECLARE
  c record;
BEGIN
  FOR c IN
    SELECT a.attrelid::regclass AS tbl, a.attname AS col
    FROM pg_attribute a
    WHERE a.attrelid = ANY (ARRAY[
        'executions', 'execution_steps', 'task_results', 'execution_logs', 'receipts', 'audit_events',
        'policy_decisions', 'execution_data_keys', 'execution_transitions', 'execution_approvals', 'execution_signals'
      ]::regclass[])
      AND a.attnum > 0 AND NOT a.attisdropped
  LOOP
    EXECUTE format('ALTER TABLE %s ALTER COLUMN %I SET STATISTICS 10', c.tbl, c.col);
  END LOOP;
END $$;
