import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { eq, inArray, sql } from 'drizzle-orm';
import { createDatabase, maxPreparedParameters } from '@mc/server/db/client';
import { executions } from '@mc/server/db/schema';
import { createTestDatabase } from '../support/test-database.ts';

// drizzle sends its queries unnamed: planned every time, and postgres.js waits for a parameter
// description before it binds — server/db/client.ts names them. pg_prepared_statements lists what
// the session (one connection here) holds, so these tests read the effect where Postgres keeps it.
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let client: ReturnType<typeof createDatabase>;
beforeAll(async () => {
  database = await createTestDatabase();
  client = createDatabase(database.url, { poolSize: 1 });
});
afterAll(async () => {
  await client.close();
  await database.drop();
});

async function preparedLike(fragment: string): Promise<{ statement: string; calls: number }[]> {
  // Without parameters this goes as a simple query, so it does not list itself.
  const rows = await client.sql.unsafe(`select statement, generic_plans + custom_plans as calls from pg_prepared_statements where statement like '%${fragment}%'`);
  return rows.map((r) => ({ statement: String(r.statement), calls: Number(r.calls) }));
}

describe('named statements for drizzle queries', () => {
  it('prepares a query with parameters once and reuses it, on the pool and inside a transaction', async () => {
    const id = crypto.randomUUID();
    for (let i = 0; i < 3; i++) await client.db.select({ id: executions.id }).from(executions).where(eq(executions.id, id));
    await client.db.transaction(async (tx) => {
      await tx.select({ status: executions.status }).from(executions).where(eq(executions.id, id));
      await tx.select({ status: executions.status }).from(executions).where(eq(executions.id, id));
    });
    const pool = await preparedLike('select "id" from "executions"');
    expect(pool).toHaveLength(1);
    expect(pool[0]!.calls).toBe(3);
    const inTx = await preparedLike('select "status" from "executions"');
    expect(inTx).toHaveLength(1);
    expect(inTx[0]!.calls).toBe(2);
  });

  it('leaves data-sized shapes unnamed: above the parameter cap a statement is not kept', async () => {
    const few = Array.from({ length: 3 }, () => crypto.randomUUID());
    const many = Array.from({ length: maxPreparedParameters + 1 }, () => crypto.randomUUID());
    await client.db.select({ createdAt: executions.createdAt }).from(executions).where(inArray(executions.id, few));
    await client.db.select({ createdAt: executions.createdAt }).from(executions).where(inArray(executions.id, many));
    const kept = await preparedLike('select "created_at" from "executions"');
    expect(kept).toHaveLength(1);
    expect(kept[0]!.statement).toContain('$3)');
    expect(kept[0]!.statement).not.toContain('$4');
  });

  it('still answers queries without parameters and raw SQL, as before', async () => {
    const [row] = await client.db.execute<{ n: number }>(sql`select 41 + 1 as n`);
    expect(Number(row!.n)).toBe(42);
    const [withParam] = await client.db.execute<{ n: number }>(sql`select ${20}::int + 22 as n`);
    expect(Number(withParam!.n)).toBe(42);
  });
});
