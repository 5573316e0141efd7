import { lt, sql } from 'drizzle-orm';
import { writeAtCommit, type Queryable } from '../db/client.ts';
import { fixedStatement } from '../db/fixed-statement.ts';
import { tenantSpendMinutes } from '../db/schema.ts';

/**
 * The budget pack's rolling window kept as running totals (table `tenant_spend_minutes`), so the
 * check at every start costs the same with ten executions in the window or ten million. A run
 * counts at its estimate from the start and at its cost once finished — the correction is added
 * to the minute it was created in, so it leaves the window when the run itself does.
 */
const shards = 8;

/**
 * Adds `amountUsd` (negative for a correction) to the tenant's minute of `createdAt`, on the
 * caller's transaction, sent with its COMMIT (`writeAtCommit`): the window is read by later starts.
 */
export async function addSpend(db: Queryable, tenantId: string, createdAt: Date, amountUsd: number | string): Promise<void> {
  if (Number(amountUsd) === 0) return;
  const minute = new Date(Math.floor(createdAt.getTime() / 60_000) * 60_000);
  // A random shard: concurrent starts of one tenant update different rows instead of queueing on one row lock.
  const shard = Math.floor(Math.random() * shards);
  await writeAtCommit(
    db,
    tenantSpendMinutes,
    db
      .insert(tenantSpendMinutes)
      .values({ tenantId, minute, shard, amountUsd: String(amountUsd) })
      .onConflictDoUpdate({
        target: [tenantSpendMinutes.tenantId, tenantSpendMinutes.minute, tenantSpendMinutes.shard],
        set: { amountUsd: sql`${tenantSpendMinutes.amountUsd} + excluded.amount_usd` },
      }),
  );
}

/** A finished run: its estimate is replaced by its cost. */
export async function settleSpend(db: Queryable, run: { tenantId: string; createdAt: Date; costUsd: string; costEstimateUsd: string }): Promise<void> {
  await addSpend(db, run.tenantId, run.createdAt, (Number(run.costUsd) - Number(run.costEstimateUsd)).toFixed(4));
}

/** The tenant's spend over the last `windowHours` (minute granularity: the window's first minute counts whole). */
export async function windowSpendUsd(db: Queryable, tenantId: string, windowHours: number, now = new Date()): Promise<number> {
  const since = new Date(Math.floor((now.getTime() - windowHours * 3_600_000) / 60_000) * 60_000);
  const [row] = await spendSince(db, { tenantId, since: since.toISOString() });
  return Number(row?.total ?? 0);
}
// Rendered once (fixedStatement): the budget pack asks at every start.
const spendSince = fixedStatement<'tenantId' | 'since'>(
  () => sql`select coalesce(sum(${tenantSpendMinutes.amountUsd}), 0) as total from ${tenantSpendMinutes}
    where ${tenantSpendMinutes.tenantId} = ${sql.placeholder('tenantId')} and ${tenantSpendMinutes.minute} >= ${sql.placeholder('since')}::timestamptz`,
);

/** Retention: minutes older than `before` no longer fall in any window. */
export async function pruneSpend(db: Queryable, before: Date): Promise<number> {
  const rows = await db.delete(tenantSpendMinutes).where(lt(tenantSpendMinutes.minute, before)).returning({ tenantId: tenantSpendMinutes.tenantId });
  return rows.length;
}
