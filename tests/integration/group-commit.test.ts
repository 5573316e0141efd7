import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'bun:test';
import { sql } from 'drizzle-orm';
import { createDatabase, deferToCommit, writeAtCommit, type Transaction } from '@mc/server/db/client';
import { GroupCommit } from '@mc/server/db/group-commit';
import { tenantSpendMinutes, tenants } from '@mc/server/db/schema';
import { addSpend, windowSpendUsd } from '@mc/server/policy/spend-ledger';
import { createTestDatabase } from '../support/test-database.ts';

// server/db/group-commit.ts: concurrent callers' transactions run as one, and each caller still
// settles with its own body's outcome. Real Postgres; a probe table of this test's own.
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let client: ReturnType<typeof createDatabase>;
beforeAll(async () => {
  database = await createTestDatabase();
  client = createDatabase(database.url, { poolSize: 4 });
  await client.sql`create table group_probe (id int primary key, note text not null)`;
});
afterAll(async () => {
  await client.close();
  await database.drop();
});
beforeEach(async () => {
  await client.sql`truncate group_probe`;
});

const insertProbe = async (tx: Transaction, id: number, note = 'x') => {
  await tx.execute(sql`insert into group_probe (id, note) values (${id}, ${note})`);
  const [row] = (await tx.execute(sql`select txid_current()::text as txid`)) as unknown as { txid: string }[];
  return row!.txid;
};
const probeIds = async () => (await client.sql<{ id: number }[]>`select id from group_probe order by id`).map((r) => r.id);

/** Holds the group's only open transaction until `release()`, so the next callers gather into one group. */
function holdTheSlot(group: GroupCommit) {
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const done = group.run(async (tx) => {
    await held;
    return insertProbe(tx, 0);
  });
  return { release, done };
}

describe('group commit (server/db/group-commit.ts)', () => {
  it('runs the bodies that arrive while a transaction is open as one transaction, each caller getting its own value', async () => {
    const group = new GroupCommit(client.db, { maxOpen: 1 });
    const first = holdTheSlot(group);
    const rest = [1, 2, 3, 4, 5].map((id) => group.run((tx) => insertProbe(tx, id)));
    first.release();
    const firstTxid = await first.done;
    const txids = await Promise.all(rest);
    expect(new Set(txids).size).toBe(1);
    expect(txids[0]).not.toBe(firstTxid);
    expect(await probeIds()).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('commits an idle caller’s body at once, alone', async () => {
    const group = new GroupCommit(client.db);
    const [a, b] = [await group.run((tx) => insertProbe(tx, 1)), await group.run((tx) => insertProbe(tx, 2))];
    expect(a).not.toBe(b);
    expect(await probeIds()).toEqual([1, 2]);
  });

  it('when one body throws, the others still commit and only that caller gets its error', async () => {
    const group = new GroupCommit(client.db, { maxOpen: 1 });
    const first = holdTheSlot(group);
    const ok = [1, 2].map((id) => group.run((tx) => insertProbe(tx, id)));
    const bad = group.run(async (tx) => {
      await insertProbe(tx, 3);
      throw new Error('body 3 refuses');
    });
    const ok2 = group.run((tx) => insertProbe(tx, 4));
    first.release();
    await first.done;
    await expect(bad).rejects.toThrow('body 3 refuses');
    await Promise.all([...ok, ok2]);
    expect(await probeIds()).toEqual([0, 1, 2, 4]);
  });

  it('when Postgres refuses one body’s statement, the group rolls back and each body runs alone with its own outcome', async () => {
    const group = new GroupCommit(client.db, { maxOpen: 1 });
    const first = holdTheSlot(group);
    const results = Promise.allSettled([
      group.run((tx) => insertProbe(tx, 1)),
      group.run((tx) => insertProbe(tx, 0, 'duplicate of the first caller’s row')),
      group.run((tx) => insertProbe(tx, 2)),
    ]);
    first.release();
    await first.done;
    const [one, dup, two] = await results;
    expect(one.status).toBe('fulfilled');
    expect(two.status).toBe('fulfilled');
    expect(dup.status).toBe('rejected');
    expect(((dup as PromiseRejectedResult).reason as Error & { cause?: { code?: string } }).cause?.code).toBe('23505');
    // Alone, each in a transaction of its own.
    expect((one as PromiseFulfilledResult<string>).value).not.toBe((two as PromiseFulfilledResult<string>).value);
    expect(await probeIds()).toEqual([0, 1, 2]);
  });

  it('when a write sent with the COMMIT fails, the group rolls back and each body runs alone', async () => {
    const taken = crypto.randomUUID();
    await client.db.insert(tenants).values({ id: taken, name: `taken-${taken}` });
    const group = new GroupCommit(client.db, { maxOpen: 1 });
    const first = holdTheSlot(group);
    const results = Promise.allSettled([
      group.run((tx) => insertProbe(tx, 1)),
      group.run(async (tx) => {
        // Deferred to the COMMIT: the body itself succeeds, the group's commit fails.
        await writeAtCommit(tx, tenants, tx.insert(tenants).values({ id: taken, name: `again-${taken}` }));
        return insertProbe(tx, 2);
      }),
      group.run((tx) => insertProbe(tx, 3)),
    ]);
    first.release();
    await first.done;
    expect((await results).map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(await probeIds()).toEqual([0, 1, 3]);
  });

  it('when the connection is lost at the COMMIT (its fate unknown), every caller gets the error and no body runs again', async () => {
    const group = new GroupCommit(client.db, { maxOpen: 1 });
    const first = holdTheSlot(group);
    const runs = new Map<number, number>();
    const body = (id: number, killAtCommit = false) =>
      group.run(async (tx) => {
        runs.set(id, (runs.get(id) ?? 0) + 1);
        // Sent with the COMMIT: the backend ends there, so the client cannot know whether it committed.
        if (killAtCommit) deferToCommit(tx, () => tx.execute(sql`select pg_terminate_backend(pg_backend_pid())`));
        return insertProbe(tx, id);
      });
    const results = Promise.allSettled([body(1), body(2, true), body(3)]);
    first.release();
    await first.done;
    expect((await results).map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect([...runs.values()]).toEqual([1, 1, 1]);
    expect(await probeIds()).toEqual([0]);
  });

  it('starts a group’s bodies in the order of their keys', async () => {
    const group = new GroupCommit(client.db, { maxOpen: 1 });
    const first = holdTheSlot(group);
    const started: string[] = [];
    const keys = ['c', 'a', 'd', 'b'];
    const runs = keys.map((key, i) =>
      group.run(async (tx) => {
        started.push(key);
        return insertProbe(tx, i + 1);
      }, key),
    );
    first.release();
    await Promise.all([first.done, ...runs]);
    expect(started).toEqual(['a', 'b', 'c', 'd']);
  });

  it('takes at most maxGroup bodies per transaction', async () => {
    const group = new GroupCommit(client.db, { maxOpen: 1, maxGroup: 2 });
    const first = holdTheSlot(group);
    const runs = [1, 2, 3, 4, 5].map((id) => group.run((tx) => insertProbe(tx, id)));
    first.release();
    await first.done;
    const txids = await Promise.all(runs);
    expect(new Set(txids).size).toBe(3);
  });
});

describe('what a group’s bodies write with the COMMIT (server/db/client.ts, spend-ledger.ts)', () => {
  it('adds the spend of all bodies as one row per tenant and minute, exactly', async () => {
    const tenantId = crypto.randomUUID();
    await client.db.insert(tenants).values({ id: tenantId, name: `group-${tenantId}` });
    const group = new GroupCommit(client.db, { maxOpen: 1 });
    const first = holdTheSlot(group);
    const at = new Date();
    const amounts = ['0.0100', '0.0200', '0.0003', '1.2345', '-0.0048'];
    const runs = amounts.map((amount, i) =>
      group.run(async (tx) => {
        await addSpend(tx, tenantId, at, amount);
        return insertProbe(tx, i + 1);
      }),
    );
    first.release();
    await Promise.all([first.done, ...runs]);
    const rows = await client.db.select().from(tenantSpendMinutes).where(sql`${tenantSpendMinutes.tenantId} = ${tenantId}`);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.amountUsd).toBe('1.2600');
    expect(await windowSpendUsd(client.db, tenantId, 1)).toBeCloseTo(1.26, 10);
  });

  it('sums one transaction’s spend per minute, and sends its second write of a table in a second statement, all applied', async () => {
    const [t1, t2] = [crypto.randomUUID(), crypto.randomUUID()];
    const minuteA = new Date('2031-01-01T00:00:00Z');
    const minuteB = new Date('2031-01-01T00:01:00Z');
    await client.db.transaction(async (tx) => {
      // Two writes of one table (one statement may not hold both), and one of another.
      await writeAtCommit(tx, tenants, tx.insert(tenants).values({ id: t1, name: `layers-${t1}` }));
      await writeAtCommit(tx, tenants, tx.insert(tenants).values({ id: t2, name: `layers-${t2}` }));
      await addSpend(tx, t1, minuteA, '0.5000');
      // A settle of the same minute in the same transaction sums into the same row.
      await addSpend(tx, t1, minuteA, '-0.2500');
      await addSpend(tx, t1, minuteB, '0.0001');
    });
    const rows = await client.db.select().from(tenantSpendMinutes).where(sql`${tenantSpendMinutes.tenantId} = ${t1}`).orderBy(tenantSpendMinutes.minute);
    expect(rows.map((r) => [r.minute.toISOString(), r.amountUsd])).toEqual([
      [minuteA.toISOString(), '0.2500'],
      [minuteB.toISOString(), '0.0001'],
    ]);
    const names = await client.db.select({ id: tenants.id }).from(tenants).where(sql`${tenants.id} in (${t1}, ${t2})`);
    expect(names).toHaveLength(2);
  });
});
