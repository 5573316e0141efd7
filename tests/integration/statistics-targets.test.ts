import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { getTableName } from 'drizzle-orm';
import postgres from 'postgres';
import {
  auditEvents,
  executionApprovals,
  executionDataKeys,
  executionLogs,
  executionSignals,
  executionSteps,
  executionTransitions,
  executions,
  policyDecisions,
  receipts,
  taskResults,
} from '@mc/server/db/schema';
import { createTestDatabase } from '../support/test-database.ts';

// drizzle/0005_key_read_statistics.sql: the tables that grow with every execution are analyzed
// from a 3,000-row sample (statistics target 10) instead of 30,000. A column added later starts at
// the default (-1, that is 100), which would bring the whole table's sample back to 30,000 rows:
// the migration adding it sets its target too, and this test says so when it does not.
const growingTables = [executions, executionSteps, taskResults, executionLogs, receipts, auditEvents, policyDecisions, executionDataKeys, executionTransitions, executionApprovals, executionSignals].map(getTableName);
const target = 10;

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let sql: postgres.Sql;
beforeAll(async () => {
  database = await createTestDatabase();
  sql = postgres(database.url, { max: 1, onnotice: () => {} });
});
afterAll(async () => {
  await sql.end();
  await database.drop();
});

describe('statistics targets of the tables that grow with every execution', () => {
  it(`sets every column of each to ${target}`, async () => {
    const rows = await sql<{ tbl: string; col: string; target: number }[]>`
      select c.relname as tbl, a.attname as col, a.attstattarget::int as target
      from pg_attribute a join pg_class c on c.oid = a.attrelid
      where c.relname = any(${growingTables}) and c.relnamespace = current_schema()::regnamespace and a.attnum > 0 and not a.attisdropped`;
    expect(new Set(rows.map((r) => r.tbl))).toEqual(new Set(growingTables));
    const off = rows.filter((r) => r.target !== target).map((r) => `${r.tbl}.${r.col} (${r.target})`);
    expect(off, `columns without statistics target ${target}; set it in the migration that adds them (drizzle/0005_key_read_statistics.sql says why)`).toEqual([]);
  });

  it('keeps the other tables at the default', async () => {
    const [row] = await sql<{ n: number }[]>`
      select count(*)::int as n from pg_attribute a join pg_class c on c.oid = a.attrelid
      where c.relkind = 'r' and c.relnamespace = current_schema()::regnamespace and not (c.relname = any(${growingTables}))
        and a.attnum > 0 and not a.attisdropped and a.attstattarget <> -1`;
    expect(row!.n).toBe(0);
  });

  it('analyzes a grown table from a 3,000-row sample and still reads it by key through its index', async () => {
    const notices: string[] = [];
    const verbose = postgres(database.url, { max: 1, onnotice: (n) => notices.push(String(n.message)) });
    try {
      await verbose`
        insert into execution_logs (tenant_id, execution_id, task_id, attempt, level, message)
        select gen_random_uuid(), gen_random_uuid(), 't', 1, 'info', 'line ' || g from generate_series(1, 20000) g`;
      await verbose`analyze verbose execution_logs`;
      const plan = await verbose.unsafe(`explain select * from execution_logs where execution_id = any('{${crypto.randomUUID()},${crypto.randomUUID()}}'::uuid[])`);
      expect(plan.map((r) => String(r['QUERY PLAN'])).join('\n')).toContain('execution_logs_execution_idx');
    } finally {
      await verbose.end();
    }
    // "…; 3000 rows in sample, 20000 estimated total rows"
    const sample = notices.map((m) => /(\d+) rows in sample/.exec(m)?.[1]).find((n) => n !== undefined);
    expect(Number(sample)).toBe(300 * target);
  });
});
