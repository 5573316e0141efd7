import { and, desc, eq, gte, isNull, lt, sql } from 'drizzle-orm';
import type { Queryable } from '../db/client.ts';
import { apiRequestMinutes, errorBudgetStates, incidents, opsAlerts, tenants } from '../db/schema.ts';
import type { OutcomeBucket } from './error-budget.ts';

export type ErrorBudgetStateRow = typeof errorBudgetStates.$inferSelect;
export type IncidentRow = typeof incidents.$inferSelect;
export type OpsAlertRow = typeof opsAlerts.$inferSelect;

export async function listLiveTenants(db: Queryable): Promise<{ id: string; name: string }[]> {
  return db.select({ id: tenants.id, name: tenants.name }).from(tenants).where(isNull(tenants.deletedAt));
}

/** Finished executions (succeeded or failed) per tenant and minute, in [from, to). */
export async function outcomeBuckets(db: Queryable, from: Date, to: Date): Promise<Map<string, OutcomeBucket[]>> {
  const rows = await db.execute<{ tenant_id: string; minute: Date | string; total: string; failed: string }>(sql`
    select tenant_id, date_trunc('minute', finished_at) as minute, count(*) as total, count(*) filter (where status = 'failed') as failed
    from executions
    where status in ('succeeded', 'failed') and finished_at >= ${from.toISOString()} and finished_at < ${to.toISOString()}
    group by 1, 2`);
  const out = new Map<string, OutcomeBucket[]>();
  for (const r of rows) {
    const list = out.get(r.tenant_id) ?? [];
    list.push({ minute: new Date(r.minute), total: Number(r.total), failed: Number(r.failed) });
    out.set(r.tenant_id, list);
  }
  return out;
}

export async function findBudgetState(db: Queryable, tenantId: string): Promise<ErrorBudgetStateRow | null> {
  const [row] = await db.select().from(errorBudgetStates).where(eq(errorBudgetStates.tenantId, tenantId));
  return row ?? null;
}

export async function listBudgetStates(db: Queryable): Promise<(ErrorBudgetStateRow & { tenantName: string })[]> {
  const rows = await db.select({ state: errorBudgetStates, tenantName: tenants.name }).from(errorBudgetStates).innerJoin(tenants, eq(tenants.id, errorBudgetStates.tenantId));
  return rows.map((r) => ({ ...r.state, tenantName: r.tenantName }));
}

/**
 * Stores an evaluation: inserted when the tenant has none, else updated only from the version read
 * (false when a concurrent evaluator got there first; its result stands).
 */
export async function saveBudgetState(db: Queryable, row: Omit<typeof errorBudgetStates.$inferInsert, 'version'>, expectedVersion: number | null): Promise<boolean> {
  if (expectedVersion === null) {
    const inserted = await db.insert(errorBudgetStates).values(row).onConflictDoNothing().returning({ v: errorBudgetStates.version });
    return inserted.length > 0;
  }
  const updated = await db
    .update(errorBudgetStates)
    .set({ ...row, version: sql`${errorBudgetStates.version} + 1` })
    .where(and(eq(errorBudgetStates.tenantId, row.tenantId), eq(errorBudgetStates.version, expectedVersion)))
    .returning({ v: errorBudgetStates.version });
  return updated.length > 0;
}

/** Once per dedupe key: true when this call raised it. */
export async function insertAlert(db: Queryable, row: typeof opsAlerts.$inferInsert): Promise<boolean> {
  const inserted = await db.insert(opsAlerts).values(row).onConflictDoNothing({ target: opsAlerts.dedupeKey }).returning({ id: opsAlerts.id });
  return inserted.length > 0;
}

/** A tenant's alerts and the platform's (tenant null), newest first. */
export async function listAlerts(db: Queryable, tenantId: string, limit: number): Promise<OpsAlertRow[]> {
  return db
    .select()
    .from(opsAlerts)
    .where(sql`${opsAlerts.tenantId} = ${tenantId} or ${opsAlerts.tenantId} is null`)
    .orderBy(desc(opsAlerts.at))
    .limit(limit);
}

export async function findOpenIncident(db: Queryable, criterion: IncidentRow['criterion']): Promise<IncidentRow | null> {
  const [row] = await db
    .select()
    .from(incidents)
    .where(and(eq(incidents.criterion, criterion), isNull(incidents.clearedAt)));
  return row ?? null;
}

/** Null when an incident for the criterion is already open (the partial unique index decides). */
export async function openIncident(db: Queryable, row: typeof incidents.$inferInsert): Promise<IncidentRow | null> {
  const [inserted] = await db
    .insert(incidents)
    .values(row)
    .onConflictDoNothing({ target: incidents.criterion, where: sql`${incidents.clearedAt} is null` })
    .returning();
  return inserted ?? null;
}

export async function updateIncident(db: Queryable, id: string, values: Partial<typeof incidents.$inferInsert>): Promise<void> {
  await db.update(incidents).set(values).where(eq(incidents.id, id));
}

export async function listIncidents(db: Queryable, limit: number): Promise<IncidentRow[]> {
  return db.select().from(incidents).orderBy(desc(incidents.openedAt)).limit(limit);
}

/** Adds a server process's per-minute request counts to the shared table. */
export async function addApiRequestCounts(db: Queryable, rows: { minute: Date; total: number; errors5xx: number }[]): Promise<void> {
  if (rows.length === 0) return;
  await db
    .insert(apiRequestMinutes)
    .values(rows)
    .onConflictDoUpdate({
      target: apiRequestMinutes.minute,
      set: { total: sql`${apiRequestMinutes.total} + excluded.total`, errors5xx: sql`${apiRequestMinutes.errors5xx} + excluded.errors_5xx` },
    });
}

export async function apiRequestTotals(db: Queryable, from: Date, to: Date): Promise<{ total: number; errors5xx: number }> {
  const [row] = await db
    .select({ total: sql<string>`coalesce(sum(${apiRequestMinutes.total}), 0)`, errors: sql<string>`coalesce(sum(${apiRequestMinutes.errors5xx}), 0)` })
    .from(apiRequestMinutes)
    .where(and(gte(apiRequestMinutes.minute, from), lt(apiRequestMinutes.minute, to)));
  return { total: Number(row?.total ?? 0), errors5xx: Number(row?.errors ?? 0) };
}

/** Publish→start latency (accepted → first task running) of executions that started in [from, to). */
export async function publishToStartStats(db: Queryable, from: Date, to: Date): Promise<{ samples: number; p95Ms: number | null }> {
  const rows = await db.execute<{ samples: string; p95: string | null }>(sql`
    select count(*) as samples,
      percentile_cont(0.95) within group (order by extract(epoch from (started_at - created_at)) * 1000) as p95
    from executions
    where started_at >= ${from.toISOString()} and started_at < ${to.toISOString()}`);
  const r = rows[0];
  return { samples: Number(r?.samples ?? 0), p95Ms: r?.p95 == null ? null : Number(r.p95) };
}
