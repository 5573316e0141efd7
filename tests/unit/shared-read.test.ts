import { describe, expect, it } from 'bun:test';
import type { Queryable } from '@mc/server/db/client';
import { sharedRead } from '@mc/server/db/shared-read';

// server/db/shared-read.ts: identical reads under way at once share one; nothing is kept after.
const aDatabase = () => ({}) as unknown as Queryable;

function deferred<V>() {
  let resolve!: (v: V) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<V>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

describe('sharedRead', () => {
  it('lets a read asked for while the same read is under way join it', async () => {
    const db = aDatabase();
    const pending = deferred<number>();
    let reads = 0;
    const read = () => (reads++, pending.promise);
    const a = sharedRead(db, 'k', read);
    const b = sharedRead(db, 'k', read);
    pending.resolve(7);
    expect(await Promise.all([a, b])).toEqual([7, 7]);
    expect(reads).toBe(1);
  });

  it('reads again once the read has settled: nothing is cached', async () => {
    const db = aDatabase();
    let reads = 0;
    expect(await sharedRead(db, 'k', async () => ++reads)).toBe(1);
    expect(await sharedRead(db, 'k', async () => ++reads)).toBe(2);
  });

  it('keeps different keys and different databases apart', async () => {
    const [db1, db2] = [aDatabase(), aDatabase()];
    let reads = 0;
    const slow = () => new Promise<number>((r) => setTimeout(() => r(++reads), 5));
    await Promise.all([sharedRead(db1, 'a', slow), sharedRead(db1, 'b', slow), sharedRead(db2, 'a', slow)]);
    expect(reads).toBe(3);
  });

  it('gives a failed read’s error to every caller that joined it, and does not keep the failure', async () => {
    const db = aDatabase();
    const pending = deferred<number>();
    const a = sharedRead(db, 'k', () => pending.promise);
    const b = sharedRead(db, 'k', () => Promise.resolve(1));
    pending.reject(new Error('connection lost'));
    await expect(a).rejects.toThrow('connection lost');
    await expect(b).rejects.toThrow('connection lost');
    expect(await sharedRead(db, 'k', () => Promise.resolve(2))).toBe(2);
  });
});
