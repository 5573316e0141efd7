import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { eq, sql } from 'drizzle-orm';
import { createDatabase } from '@mc/server/db/client';
import { fixedStatement } from '@mc/server/db/fixed-statement';
import { rowOf } from '@mc/server/db/raw-rows';
import { tenants } from '@mc/server/db/schema';
import { createTestDatabase } from '../support/test-database.ts';

// server/db/fixed-statement.ts: hot statements rendered once, then run with values by name on
// the pool or on a transaction's own connection.
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let client: ReturnType<typeof createDatabase>;
beforeAll(async () => {
  database = await createTestDatabase();
  client = createDatabase(database.url, { poolSize: 2 });
});
afterAll(async () => {
  await client.close();
  await database.drop();
});

let builds = 0;
const tenantByName = fixedStatement<'name'>((q) => {
  builds++;
  return q.select().from(tenants).where(eq(tenants.name, sql.placeholder('name')));
});
// Column-bound placeholders (an insert's values) are encoded by their column: the Date here.
const insertTenant = fixedStatement<'id' | 'name' | 'createdAt'>((q) =>
  q.insert(tenants).values({ id: sql.placeholder('id'), name: sql.placeholder('name'), createdAt: sql.placeholder('createdAt') }).returning(),
);

describe('fixedStatement (server/db/fixed-statement.ts)', () => {
  it('renders its statement once and runs it with each call’s values, on the pool', async () => {
    const at = new Date('2031-02-03T04:05:06.789Z');
    const names = ['fixed-a', 'fixed-b', 'fixed-c'];
    for (const name of names) await insertTenant(client.db, { id: crypto.randomUUID(), name, createdAt: at });
    const found = [];
    for (const name of [...names, 'fixed-none']) found.push(...(await tenantByName(client.db, { name })).map((raw) => rowOf(tenants, raw)));
    expect(found.map((t) => t.name)).toEqual(names);
    expect(found.every((t) => t.createdAt instanceof Date && t.createdAt.getTime() === at.getTime())).toBe(true);
    expect(builds).toBe(1);
  });

  it('runs on the transaction it is given: it sees that transaction’s uncommitted rows, and nothing stays after a rollback', async () => {
    const name = `fixed-tx-${crypto.randomUUID()}`;
    let seenInside = -1;
    let seenOutside = -1;
    await expect(
      client.db.transaction(async (tx) => {
        await insertTenant(tx, { id: crypto.randomUUID(), name, createdAt: new Date() });
        seenInside = (await tenantByName(tx, { name })).length;
        seenOutside = (await tenantByName(client.db, { name })).length;
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect(seenInside).toBe(1);
    expect(seenOutside).toBe(0);
    expect(await tenantByName(client.db, { name })).toHaveLength(0);
  });

  it('refuses a call without a value for one of its placeholders, naming it', async () => {
    expect(() => tenantByName(client.db, {} as { name: string })).toThrow('No value for placeholder "name"');
  });
});
