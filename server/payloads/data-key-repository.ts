import { eq, sql } from 'drizzle-orm';
import { insertRowsAtCommit, type Queryable } from '../db/client.ts';
import { dataErasures, executionDataKeys } from '../db/schema.ts';

export type DataKeyRow = typeof executionDataKeys.$inferSelect;

/** On a transaction, sent with its COMMIT (`writeAtCommit`): the new execution's key is first read by its tasks. */
export async function insertDataKey(db: Queryable, row: typeof executionDataKeys.$inferInsert): Promise<void> {
  await insertRowsAtCommit(db, executionDataKeys, [row], { onConflictDoNothing: true });
}

export async function findDataKey(db: Queryable, executionId: string): Promise<DataKeyRow | null> {
  const [row] = await db.select().from(executionDataKeys).where(eq(executionDataKeys.executionId, executionId));
  return row ?? null;
}

/** Destroys the wrapped key (cryptographic erase). Returns the row as it was, or null when there was none or it was already erased. */
export async function destroyDataKey(db: Queryable, executionId: string): Promise<DataKeyRow | null> {
  const [before] = await db.select().from(executionDataKeys).where(eq(executionDataKeys.executionId, executionId)).for('update');
  if (!before || before.wrappedKey === null) return null;
  await db.update(executionDataKeys).set({ wrappedKey: null, erasedAt: sql`now()` }).where(eq(executionDataKeys.executionId, executionId));
  return before;
}

export async function insertErasure(db: Queryable, row: typeof dataErasures.$inferInsert) {
  const [inserted] = await db.insert(dataErasures).values(row).onConflictDoNothing().returning();
  return inserted ?? null;
}

export async function findErasure(db: Queryable, executionId: string) {
  const [row] = await db.select().from(dataErasures).where(eq(dataErasures.executionId, executionId));
  return row ?? null;
}
