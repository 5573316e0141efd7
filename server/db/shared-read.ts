import { PgTransaction } from 'drizzle-orm/pg-core';
import type { Queryable } from './client.ts';

/**
 * Concurrent identical reads share one statement ("single flight"): a read asked for while the
 * same read (same `key`) is under way on the same database joins it instead of sending its own,
 * and nothing is kept once it settles — the next one reads again. A joiner gets a value read
 * from a moment between its own arrival and the first caller's, so this is only for reads that
 * are already advisory under concurrency: the quotas checked before a start (two starts racing at
 * a limit may both pass either way). A read on a transaction is never shared: it must see what
 * that transaction wrote.
 */
const underWay = new WeakMap<object, Map<string, Promise<unknown>>>();

export function sharedRead<V>(db: Queryable, key: string, read: () => Promise<V>): Promise<V> {
  if (db instanceof PgTransaction) return read();
  let reads = underWay.get(db);
  if (!reads) underWay.set(db, (reads = new Map()));
  const running = reads.get(key) as Promise<V> | undefined;
  if (running) return running;
  const started = read().finally(() => reads.delete(key));
  reads.set(key, started);
  return started;
}
