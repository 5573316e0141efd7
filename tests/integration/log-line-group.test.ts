import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { asc, eq } from 'drizzle-orm';
import { createDatabase } from '@mc/server/db/client';
import { executionLogs, tenants } from '@mc/server/db/schema';
import { LogLineGroup } from '@mc/server/executions/log-line-group';
import { createTestDatabase } from '../support/test-database.ts';

// server/executions/log-line-group.ts: step log lines that come together go out in one insert;
// each caller settles when its own line is stored, and a bad line fails alone. Real Postgres.
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let client: ReturnType<typeof createDatabase>;
const tenantId = crypto.randomUUID();
beforeAll(async () => {
  database = await createTestDatabase();
  client = createDatabase(database.url, { poolSize: 2 });
  await client.db.insert(tenants).values({ id: tenantId, name: `logs-${tenantId}` });
});
afterAll(async () => {
  await client.close();
  await database.drop();
});

const linesOf = (executionId: string) => client.db.select().from(executionLogs).where(eq(executionLogs.executionId, executionId)).orderBy(asc(executionLogs.id));

describe('log line group (server/executions/log-line-group.ts)', () => {
  it('stores every line, in order, with its fields as a line written alone would have them', async () => {
    // One write open at a time: the first line goes alone, the other 49 wait and go out together.
    const group = new LogLineGroup(client.db, 1);
    const executionId = crypto.randomUUID();
    const sent = Array.from({ length: 50 }, (_, i) => ({
      tenantId,
      executionId,
      taskId: i % 2 === 0 ? `t${i}` : null,
      attempt: i % 3 === 0 ? null : i,
      level: i % 5 === 0 ? 'warn' : 'info',
      message: `line ${i} — “quoted”, ünïcode`,
      data: i % 4 === 0 ? null : { i, nested: { list: [1, 'two', null] }, text: 'x' },
    }));
    await Promise.all(sent.map((line) => group.append(line)));
    const stored = await linesOf(executionId);
    expect(stored.map((r) => ({ tenantId: r.tenantId, executionId: r.executionId, taskId: r.taskId, attempt: r.attempt, level: r.level, message: r.message, data: r.data }))).toEqual(sent);
    // A line without data is SQL NULL, not JSON null, in the group as alone.
    const [nulls] = await client.sql<{ n: number }[]>`select count(*)::int as n from execution_logs where execution_id = ${executionId} and data is null`;
    expect(nulls!.n).toBe(sent.filter((l) => l.data === null).length);
  });

  it('when one line cannot be stored, only its caller gets the error; the group’s other lines are stored', async () => {
    const group = new LogLineGroup(client.db, 1);
    const executionId = crypto.randomUUID();
    const first = group.append({ tenantId, executionId, taskId: 'a', attempt: 1, level: 'info', message: 'first, alone' });
    const rest = [
      group.append({ tenantId, executionId, taskId: 'b', attempt: 1, level: 'info', message: 'second' }),
      group.append({ tenantId: 'not-a-tenant-id', executionId, taskId: 'c', attempt: 1, level: 'info', message: 'bad tenant' }),
      group.append({ tenantId, executionId, taskId: 'd', attempt: 1, level: 'info', message: 'fourth' }),
    ];
    await first;
    const settled = await Promise.allSettled(rest);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((await linesOf(executionId)).map((r) => r.taskId)).toEqual(['a', 'b', 'd']);
  });
});
