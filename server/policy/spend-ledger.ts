import { lt, sql } from 'drizzle-orm';
import { holdsWritesToCommit, writeAtCommit, type Queryable } from '../db/client.ts';
import { fixedStatement } from '../db/fixed-statement.ts';
import { sharedRead } from '../db/shared-read.ts';
import { tenantSpendMinutes } from '../db/schema.ts';

/**
 * The budget pack's rolling window kept as running totals (table `tenant_spend_minutes`), so the
 * check at every start costs the same with ten executions in the window or ten million. A run
 * counts at its estimate from the start and at its cost once finished — the correction is added
 * to the minute it was created in, so it leaves the window when the run itself does.
 */
const shards = 8;

/** What a transaction has added, per tenant and minute, in units of 0.0001 USD (the column's scale: sums stay exact). */
const addedInTransaction = new WeakMap<object, Map<string, { tenantId: string; minute: Date; units: number }>>();

/**
 * Adds `amountUsd` (negative for a correction) to the tenant's minute of `createdAt`. On a
 * transaction it is sent with its COMMIT (`writeAtCommit`), as one upsert for all the transaction
 * added (a group commit's starts add to the same minute): one row each per tenant and minute, in
 * one shard, upserted in a fixed order, so two transactions never wait on each other's rows in
 * opposite orders. Read by later starts.
 */
export async function addSpend(db: Queryable, tenantId: string, createdAt: Date, amountUsd: number | string): Promise<void> {
  const units = Math.round(Number(amountUsd) * 10_000);
  if (units === 0) return;
  const minute = new Date(Math.floor(createdAt.getTime() / 60_000) * 60_000);
  if (!holdsWritesToCommit(db)) return void (await upsertSpend(db, [{ tenantId, minute, units }]).execute());
  let added = addedInTransaction.get(db);
  if (!added) {
    const rows = new Map<string, { tenantId: string; minute: Date; units: number }>();
    addedInTransaction.set(db, (added = rows));
    await writeAtCommit(db, tenantSpendMinutes, () => upsertSpend(db, [...rows.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, r]) => r)));
  }
  const key = `${tenantId} ${minute.getTime()}`;
  const row = added.get(key);
  if (row) row.units += units;
  else added.set(key, { tenantId, minute, units });
}

function upsertSpend(db: Queryable, rows: readonly { tenantId: string; minute: Date; units: number }[]) {
  // A random shard: concurrent starts of one tenant update different rows instead of queueing on one row lock.
  const shard = Math.floor(Math.random() * shards);
  return db
    .insert(tenantSpendMinutes)
    .values(rows.map((r) => ({ tenantId: r.tenantId, minute: r.minute, shard, amountUsd: (r.units / 10_000).toFixed(4) })))
    .onConflictDoUpdate({
      target: [tenantSpendMinutes.tenantId, tenantSpendMinutes.minute, tenantSpendMinutes.shard],
      set: { amountUsd: sql`${tenantSpendMinutes.amountUsd} + excluded.amount_usd` },
    });
}

/** A finished run: its estimate is replaced by its cost. */
export async function settleSpend(db: Queryable, run: { tenantId: string; createdAt: Date; costUsd: string; costEstimateUsd: string }): Promise<void> {
  await addSpend(db, run.tenantId, run.createdAt, (Number(run.costUsd) - Number(run.costEstimateUsd)).toFixed(4));
}

/**
 * The tenant's spend over the last `windowHours` (minute granularity: the window's first minute
 * counts whole). Starts of one tenant that come together share one read (`sharedRead`): the
 * budget is advisory under concurrency, as two starts racing at its limit may both pass anyway.
 */
export async function windowSpendUsd(db: Queryable, tenantId: string, windowHours: number, now = new Date()): Promise<number> {
  const since = new Date(Math.floor((now.getTime() - windowHours * 3_600_000) / 60_000) * 60_000).toISOString();
  const [row] = await sharedRead(db, `spend-window ${tenantId} ${since}`, () => spendSince(db, { tenantId, since }));
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
