import { eq } from 'drizzle-orm';
import type { Queryable } from '../db/client.ts';
import { receipts } from '../db/schema.ts';

export type ReceiptRow = typeof receipts.$inferSelect;

export async function findReceipt(db: Queryable, executionId: string): Promise<ReceiptRow | null> {
  const [row] = await db.select().from(receipts).where(eq(receipts.executionId, executionId));
  return row ?? null;
}

/** The ids of the executions whose receipt row this inserted (one already recorded is kept as it is). */
export async function insertReceipts(db: Queryable, rows: (typeof receipts.$inferInsert)[]): Promise<Set<string>> {
  if (rows.length === 0) return new Set();
  const inserted = await db.insert(receipts).values(rows).onConflictDoNothing().returning({ id: receipts.executionId });
  return new Set(inserted.map((r) => r.id));
}
