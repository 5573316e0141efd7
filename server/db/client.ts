import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import * as schema from './schema.ts';

export type Database = ReturnType<typeof createDatabase>['db'];
export type Transaction = Parameters<Parameters<Database['transaction']>[0]>[0];
/** Anything queries can run on: the pool or an open transaction. */
export type Queryable = Database | Transaction;

/** Seconds before the next connect after `retries` failed ones: 50 ms doubling, capped at 1 s, with jitter. */
export function reconnectDelaySeconds(retries: number): number {
  return (0.5 + Math.random() / 2) * Math.min(0.05 * 2 ** retries, 1);
}

export function createDatabase(url: string, opts: { poolSize?: number } = {}) {
  const sql = postgres(url, {
    max: opts.poolSize ?? 10,
    onnotice: () => {},
    // Bounded connect so a down database surfaces as "unavailable" rather than a hang.
    connect_timeout: 5,
    // postgres.js counts failed connects pool-wide and waits (0.5–1) × min(3^n / 100, 20) s before
    // the next: a few seconds of outage under load pushes that to 7–20 s, so a restarted database
    // went unused for 13–17 s. Capped at 1 s, recovery follows the database within about a second.
    backoff: reconnectDelaySeconds,
  });
  const db = drizzle(sql, { schema });
  return { db, sql, close: () => sql.end({ timeout: 5 }) };
}
