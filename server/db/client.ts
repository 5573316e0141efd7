import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import * as schema from './schema.ts';

export type Database = ReturnType<typeof createDatabase>['db'];
export type Transaction = Parameters<Parameters<Database['transaction']>[0]>[0];
/** Anything queries can run on: the pool or an open transaction. */
export type Queryable = Database | Transaction;

export function createDatabase(url: string, opts: { poolSize?: number } = {}) {
  const sql = postgres(url, {
    max: opts.poolSize ?? 10,
    onnotice: () => {},
    // Bounded connect so a down database surfaces as "unavailable" rather than a hang.
    connect_timeout: 5,
  });
  const db = drizzle(sql, { schema });
  return { db, sql, close: () => sql.end({ timeout: 5 }) };
}
