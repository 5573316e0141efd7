import { and, desc, eq, lt, ne, or, sql } from 'drizzle-orm';
import type { Queryable } from '../db/client.ts';
import { schedules } from '../db/schema.ts';
import type { CursorPosition } from '../http/cursor.ts';

export type ScheduleRow = typeof schedules.$inferSelect;
export type NewScheduleRow = typeof schedules.$inferInsert;

export async function insertSchedule(db: Queryable, row: NewScheduleRow): Promise<ScheduleRow> {
  const [inserted] = await db.insert(schedules).values(row).returning();
  return inserted!;
}

/** Deleted schedules are kept (their runs point at them) but are not found by id for callers. */
export async function findSchedule(db: Queryable, id: string, tenantId?: string, opts: { forUpdate?: boolean } = {}): Promise<ScheduleRow | null> {
  const where = tenantId ? and(eq(schedules.id, id), eq(schedules.tenantId, tenantId), ne(schedules.status, 'deleted')) : eq(schedules.id, id);
  const query = db.select().from(schedules).where(where);
  const [row] = opts.forUpdate ? await query.for('update') : await query;
  return row ?? null;
}

export async function updateSchedule(db: Queryable, id: string, values: Partial<NewScheduleRow>): Promise<ScheduleRow> {
  const [row] = await db
    .update(schedules)
    .set({ ...values, updatedAt: sql`now()` })
    .where(eq(schedules.id, id))
    .returning();
  return row!;
}

export async function listSchedules(db: Queryable, opts: { tenantId: string; limit: number; after: CursorPosition | null; workflowId?: string | undefined }) {
  return db
    .select()
    .from(schedules)
    .where(
      and(
        eq(schedules.tenantId, opts.tenantId),
        ne(schedules.status, 'deleted'),
        opts.workflowId ? eq(schedules.workflowId, opts.workflowId) : undefined,
        opts.after ? or(lt(schedules.createdAt, opts.after.createdAt), and(eq(schedules.createdAt, opts.after.createdAt), lt(schedules.id, opts.after.id))) : undefined,
      ),
    )
    .orderBy(desc(schedules.createdAt), desc(schedules.id))
    .limit(opts.limit + 1);
}

/** Every active schedule (the sweeper makes sure each has its BullMQ job scheduler). */
export async function listActiveSchedules(db: Queryable, limit: number): Promise<ScheduleRow[]> {
  return db.select().from(schedules).where(eq(schedules.status, 'active')).limit(limit);
}
