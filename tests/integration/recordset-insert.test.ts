import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { eq, sql } from 'drizzle-orm';
import { createDatabase, insertRowsAtCommit } from '@mc/server/db/client';
import { rowsWrite } from '@mc/server/db/recordset-insert';
import { executionDataKeys, executionSteps, executionTransitions, executions, policyDecisions, tenants, workflows } from '@mc/server/db/schema';
import { createTestDatabase } from '../support/test-database.ts';

// server/db/recordset-insert.ts: rows inserted by one fixed statement (jsonb_to_recordset) read
// back exactly as the same rows inserted by drizzle, null, defaults and types included.
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let client: ReturnType<typeof createDatabase>;
let tenantId: string;
let workflowId: string;

beforeAll(async () => {
  database = await createTestDatabase();
  client = createDatabase(database.url, { poolSize: 4 });
  const [tenant] = await client.db.select({ id: tenants.id }).from(tenants).limit(1);
  tenantId = tenant?.id ?? (await client.db.insert(tenants).values({ name: 'recordset' }).returning({ id: tenants.id }))[0]!.id;
  const [wf] = await client.db
    .insert(workflows)
    .values({ tenantId, name: 'recordset', version: '1.0.0', manifest: {}, manifestDigest: 'sha256:x', status: 'published', createdBy: 'test', region: 'us', publishedAt: new Date(), publishedBy: 'test' } as never)
    .returning({ id: workflows.id });
  workflowId = wf!.id;
});
afterAll(async () => {
  await client.close();
  await database.drop();
});

async function newExecution(): Promise<string> {
  const [row] = await client.db
    .insert(executions)
    .values({ tenantId, workflowId, status: 'pending', region: 'us', actorSub: 'test', inputs: {}, inputsDigest: 'sha256:i', openSteps: 2 } as never)
    .returning({ id: executions.id });
  return row!.id;
}

/**
 * The table's rows of one execution as Postgres holds them (`to_jsonb` of each row, so a jsonb
 * string is not mistaken for the object it spells), without the columns that differ by design.
 */
async function rowsOf(table: string, executionId: string, omit: string[] = []) {
  const rows = await client.sql<{ j: Record<string, unknown> }[]>`select to_jsonb(t) as j from ${client.sql(table)} t where execution_id = ${executionId}`;
  return rows
    .map(({ j }) => Object.fromEntries(Object.entries(j).filter(([k]) => !omit.includes(k) && k !== 'execution_id')))
    .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

describe('rows inserted by a fixed statement (server/db/recordset-insert.ts)', () => {
  it('reads back as drizzle’s insert of the same rows: steps with nulls, numbers, dates, and columns left to their defaults', async () => {
    const [a, b] = [await newExecution(), await newExecution()];
    const at = new Date('2026-11-25T10:00:00.123Z');
    const steps = (executionId: string) => [
      { executionId, tenantId, taskId: 'a', uses: 'pkg:demo/echo@1.0.0', runnerClass: 'default', status: 'queued' as const, remainingNeeds: 0, startedAt: at, error: null, costUsd: '0.0123', durationMs: 17 },
      { executionId, tenantId, taskId: 'b — ünïcode "quoted"', uses: 'pkg:demo/echo@1.0.0', runnerClass: 'gpu', status: 'pending' as const, remainingNeeds: 1, startedAt: null, error: 'line\nbreak', costUsd: '0', durationMs: null },
    ];
    await client.db.insert(executionSteps).values(steps(a));
    await insertRowsAtCommit(client.db, executionSteps, steps(b));
    const omit = ['updated_at'];
    expect(await rowsOf('execution_steps', b, omit)).toEqual(await rowsOf('execution_steps', a, omit));
    const [row] = await rowsOf('execution_steps', b);
    expect(row!.attempts).toBe(0); // the column's default: left out, as drizzle leaves it
  });

  it('keeps jsonb values (objects, arrays, strings) and SQL NULL apart, and booleans and numeric(10, 3)', async () => {
    const [a, b] = [await newExecution(), await newExecution()];
    const decisions = (executionId: string) =>
      [
        { reasons: [{ code: 'x', message: 'a "quote"' }], allow: false, latencyMs: 1.234 },
        { reasons: 'a bare string', allow: true, latencyMs: 0 },
        { reasons: { nested: { list: [1, null, true] } }, allow: true, latencyMs: 12 },
      ].map((d, i) => ({
        decisionId: crypto.randomUUID(),
        tenantId,
        pack: `pack-${i}`,
        bundleDigest: 'sha256:b',
        backend: 'embedded',
        phase: 'execute' as const,
        action: 'execute',
        actorSub: 'sub',
        executionId,
        inputDigest: 'sha256:in',
        workflowId: i === 1 ? null : workflowId,
        ...d,
      }));
    await client.db.insert(policyDecisions).values(decisions(a) as never);
    await insertRowsAtCommit(client.db, policyDecisions, decisions(b) as never);
    const omit = ['decision_id', 'created_at'];
    const stored = await rowsOf('policy_decisions', b, omit);
    expect(stored).toEqual(await rowsOf('policy_decisions', a, omit));
    expect(stored.map((r) => typeof r.reasons)).toEqual(['object', 'string', 'object']);
  });

  it('on a transaction, sends the rows of every write to a table in one statement, in the order written, with the COMMIT', async () => {
    const ids = [await newExecution(), await newExecution(), await newExecution()];
    await client.db.transaction(async (tx) => {
      for (const [i, executionId] of ids.entries()) {
        await insertRowsAtCommit(tx, executionTransitions, [
          { tenantId, type: 'mc.execution.finished', executionId, fromStatus: 'running', toStatus: 'receipt_pending', actorSub: `a${i}`, data: { i } },
          { tenantId, type: 'mc.execution.receipt.signed', executionId, fromStatus: 'receipt_pending', toStatus: 'succeeded', actorSub: `b${i}`, data: { i } },
        ]);
      }
      // Nothing is sent before the commit.
      const [seen] = await tx.select({ n: sql<number>`count(*)::int` }).from(executionTransitions).where(eq(executionTransitions.tenantId, tenantId));
      expect(seen!.n).toBe(0);
    });
    const rows = await client.db.select().from(executionTransitions).where(eq(executionTransitions.tenantId, tenantId)).orderBy(executionTransitions.id);
    expect(rows.map((r) => r.actorSub)).toEqual(['a0', 'b0', 'a1', 'b1', 'a2', 'b2']);
    expect(rows[0]!.data).toEqual({ i: 0 });
  });

  it('does nothing on conflict when asked, and fails the transaction otherwise', async () => {
    const executionId = await newExecution();
    const key = { executionId, tenantId, region: 'us', wrappedKey: 'w1', masterKeyId: 'm1' };
    await insertRowsAtCommit(client.db, executionDataKeys, [key], { onConflictDoNothing: true });
    await insertRowsAtCommit(client.db, executionDataKeys, [{ ...key, wrappedKey: 'w2' }], { onConflictDoNothing: true });
    const [stored] = await client.db.select().from(executionDataKeys).where(eq(executionDataKeys.executionId, executionId));
    expect(stored!.wrappedKey).toBe('w1');
    expect(stored!.erasedAt).toBeNull();
    await expect(client.db.transaction((tx) => insertRowsAtCommit(tx, executionDataKeys, [{ ...key, wrappedKey: 'w3' }]))).rejects.toThrow(/duplicate key/);
  });

  it('leaves to drizzle what JSON cannot carry: SQL expressions, rows giving different columns', () => {
    const executionId = crypto.randomUUID();
    expect(rowsWrite(executionSteps, [{ executionId, tenantId, taskId: 'a', uses: 'u', runnerClass: 'default', status: 'queued', remainingNeeds: 0, startedAt: sql`now()` as never }])).toBeNull();
    expect(
      rowsWrite(executionSteps, [
        { executionId, tenantId, taskId: 'a', uses: 'u', runnerClass: 'default', status: 'queued', remainingNeeds: 0 },
        { executionId, tenantId, taskId: 'b', uses: 'u', runnerClass: 'default', status: 'queued', remainingNeeds: 0, error: 'x' },
      ]),
    ).toBeNull();
    expect(rowsWrite(executionSteps, [])).toBeNull();
  });
});
