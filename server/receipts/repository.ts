import { eq } from 'drizzle-orm';
import type { Queryable } from '../db/client.ts';
import { receipts } from '../db/schema.ts';

export type ReceiptRow = typeof receipts.$inferSelect;

export async function findReceipt(db: Queryable, executionId: string): Promise<ReceiptRow | null> {
  const [row] = await db.select().from(receipts).where(eq(receipts.executionId, executionId));
  return row ?? null;
}

export async function insertReceipt(db: Queryable, row: typeof receipts.$inferInsert): Promise<boolean> {
  const inserted = await db.insert(receipts).values(row).onConflictDoNothing().returning({ id: receipts.executionId });
  return inserted.length > 0;
}
