import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import postgres from 'postgres';
import { createTestDatabase } from '../support/test-database.ts';

/**
 * postgres.js is patched (patches/postgres@3.4.9.patch) to send a plain BEGIN without waiting for
 * its answer: the transaction's statements follow it on the same connection. These check that
 * they are still inside the transaction, and that a BEGIN with options is still awaited.
 */
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let sql: postgres.Sql;
const count = async (tag: string) => (await sql<{ n: number }[]>`select count(*)::int as n from pipelined where tag = ${tag}`)[0]!.n;

beforeAll(async () => {
  database = await createTestDatabase();
  sql = postgres(database.url, { max: 2, onnotice: () => {} });
  await sql`create table pipelined (tag text not null, n int not null)`;
});
afterAll(async () => {
  await sql.end({ timeout: 5 });
  await database.drop();
});

describe('a transaction whose BEGIN is not awaited', () => {
  it('commits the statements sent right behind it, together', async () => {
    await sql.begin((tx) => [tx`insert into pipelined values ('ok', 1)`, tx`insert into pipelined values ('ok', 2)`]);
    expect(await count('ok')).toBe(2);
  });

  it('rolls back a statement sent right behind it when a later one fails: it ran inside the transaction', async () => {
    const attempt = sql.begin((tx) => [tx`insert into pipelined values ('rolled', 1)`, tx`select 1 / 0`]);
    await expect(attempt).rejects.toThrow(/division by zero/);
    expect(await count('rolled')).toBe(0);
  });

  it('sees its own writes, and none of them is visible outside before COMMIT', async () => {
    let outside = -1;
    await sql.begin(async (tx) => {
      await tx`insert into pipelined values ('own', 1)`;
      const [row] = await tx<{ n: number }[]>`select count(*)::int as n from pipelined where tag = 'own'`;
      expect(row!.n).toBe(1);
      outside = await count('own');
    });
    expect(outside).toBe(0);
    expect(await count('own')).toBe(1);
  });

  it('still awaits a BEGIN with options: wrong ones reject before any statement runs', async () => {
    const attempt = sql.begin('isolation level bogus', (tx) => [tx`insert into pipelined values ('bad-begin', 1)`]);
    await expect(attempt).rejects.toThrow();
    expect(await count('bad-begin')).toBe(0);
    await sql.begin('read only', async (tx) => {
      await expect(tx`insert into pipelined values ('read-only', 1)`).rejects.toThrow(/read-only transaction/);
    }).catch(() => undefined);
    expect(await count('read-only')).toBe(0);
  });
});
