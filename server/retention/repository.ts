import { sql } from 'drizzle-orm';
import type { Queryable } from '../db/client.ts';
import { executionLogs, retentionRuns } from '../db/schema.ts';

/** Deletes up to `limit` step log rows written before `cutoff`, oldest first; returns how many. */
export async function deleteLogsBefore(db: Queryable, cutoff: Date, limit: number): Promise<number> {
  const rows = await db
    .delete(executionLogs)
    .where(sql`${executionLogs.id} in (select id from ${executionLogs} where ${executionLogs.ts} < ${cutoff.toISOString()}::timestamptz order by id limit ${limit})`)
    .returning({ id: executionLogs.id });
  return rows.length;
}

export async function insertRetentionRun(db: Queryable, row: typeof retentionRuns.$inferInsert) {
  const [inserted] = await db.insert(retentionRuns).values(row).returning();
  return inserted!;
}
