import { and, asc, desc, eq, sql } from 'drizzle-orm';
import { compareSemver } from '@mc/shared/semver';
import type { Queryable } from '../db/client.ts';
import { fixedStatement } from '../db/fixed-statement.ts';
import { readGroupOf } from '../db/read-group.ts';
import { rowOf } from '../db/raw-rows.ts';
import { releaseEvents, releaseRequests, releases, releaseTracks, workflows } from '../db/schema.ts';

export type ReleaseRow = typeof releases.$inferSelect;
export type ReleaseEventRow = typeof releaseEvents.$inferSelect;
export type NewReleaseEventRow = typeof releaseEvents.$inferInsert;

export async function findRelease(db: Queryable, id: string, tenantId?: string): Promise<ReleaseRow | null> {
  const [row] = await db
    .select()
    .from(releases)
    .where(tenantId ? and(eq(releases.id, id), eq(releases.tenantId, tenantId)) : eq(releases.id, id));
  return row ?? null;
}

export async function findActiveRelease(db: Queryable, tenantId: string, workflowName: string): Promise<ReleaseRow | null> {
  // Every start asks: those that come while a read is under way go together in the next (read-group.ts).
  const key = JSON.stringify([tenantId, workflowName]);
  const group = readGroupOf(db, 'active-release', (keys: string[]) => findActiveReleases(db, keys));
  return (await (group ? group.read(key) : findActiveReleases(db, [key]).then((found) => found.get(key)))) ?? null;
}

/** Active releases by `JSON.stringify([tenantId, workflowName])`. */
async function findActiveReleases(db: Queryable, keys: string[]): Promise<Map<string, ReleaseRow>> {
  const pairs = keys.map((k) => JSON.parse(k) as [string, string]);
  const rows = await activeReleases(db, { tenantIds: pairs.map((p) => p[0]), workflowNames: pairs.map((p) => p[1]) });
  return new Map(rows.map((raw) => rowOf(releases, raw)).map((r) => [JSON.stringify([r.tenantId, r.workflowName]), r]));
}
// Rendered once (fixedStatement): every start asks.
const activeReleases = fixedStatement<'tenantIds' | 'workflowNames'>(
  () => sql`select ${releases}.* from ${releases}
    join unnest(${sql.placeholder('tenantIds')}::uuid[], ${sql.placeholder('workflowNames')}::text[]) as wanted(tenant_id, workflow_name)
      on ${releases.tenantId} = wanted.tenant_id and ${releases.workflowName} = wanted.workflow_name
    where ${releases.status} = 'active'`,
);

/** Active releases of one tenant, or of every tenant (the controller's and Sev1 containment's view). */
export async function listActiveReleases(db: Queryable, tenantId?: string): Promise<ReleaseRow[]> {
  return db
    .select()
    .from(releases)
    .where(tenantId ? and(eq(releases.status, 'active'), eq(releases.tenantId, tenantId)) : eq(releases.status, 'active'))
    .orderBy(asc(releases.createdAt));
}

export async function listReleases(
  db: Queryable,
  opts: { tenantId: string; workflowName?: string | undefined; status?: ReleaseRow['status'] | undefined; limit: number },
): Promise<ReleaseRow[]> {
  const conditions = [
    eq(releases.tenantId, opts.tenantId),
    opts.workflowName ? eq(releases.workflowName, opts.workflowName) : undefined,
    opts.status ? eq(releases.status, opts.status) : undefined,
  ].filter((c) => c !== undefined);
  return db
    .select()
    .from(releases)
    .where(and(...conditions))
    .orderBy(desc(releases.createdAt), desc(releases.id))
    .limit(opts.limit);
}

/** Null when the name already has an active release (the partial unique index decides races). */
export async function insertRelease(db: Queryable, row: typeof releases.$inferInsert): Promise<ReleaseRow | null> {
  const [inserted] = await db
    .insert(releases)
    .values(row)
    .onConflictDoNothing({ target: [releases.tenantId, releases.workflowName], where: sql`${releases.status} = 'active'` })
    .returning();
  return inserted ?? null;
}

/**
 * The guarded transition: applies only to an active release still at `expectedVersion`, and bumps
 * the version. Null when another writer moved first — the caller then does nothing.
 */
export async function transitionRelease(db: Queryable, id: string, expectedVersion: number, values: Partial<typeof releases.$inferInsert>): Promise<ReleaseRow | null> {
  const [row] = await db
    .update(releases)
    .set({ ...values, version: sql`${releases.version} + 1` })
    .where(and(eq(releases.id, id), eq(releases.version, expectedVersion), eq(releases.status, 'active')))
    .returning();
  return row ?? null;
}

/** Caches the latest analysis for the dashboard; skipped when the release moved on meanwhile. */
export async function storeAnalysis(db: Queryable, id: string, expectedVersion: number, analysis: unknown, at: Date): Promise<void> {
  await db
    .update(releases)
    .set({ lastAnalysis: analysis, lastAnalyzedAt: at })
    .where(and(eq(releases.id, id), eq(releases.version, expectedVersion)));
}

/** Once per (release, dedupeKey): true when this call recorded it. */
export async function insertReleaseEvent(db: Queryable, row: NewReleaseEventRow): Promise<boolean> {
  const inserted = await db.insert(releaseEvents).values(row).onConflictDoNothing({ target: [releaseEvents.releaseId, releaseEvents.dedupeKey] }).returning({ id: releaseEvents.id });
  return inserted.length > 0;
}

export async function listReleaseEvents(db: Queryable, releaseId: string): Promise<ReleaseEventRow[]> {
  return db.select().from(releaseEvents).where(eq(releaseEvents.releaseId, releaseId)).orderBy(asc(releaseEvents.id));
}

export async function findStableWorkflowId(db: Queryable, tenantId: string, workflowName: string): Promise<string | null> {
  const [row] = await db
    .select({ id: releaseTracks.stableWorkflowId })
    .from(releaseTracks)
    .where(and(eq(releaseTracks.tenantId, tenantId), eq(releaseTracks.workflowName, workflowName)));
  return row?.id ?? null;
}

export async function setStableWorkflow(db: Queryable, tenantId: string, workflowName: string, workflowId: string): Promise<void> {
  await db
    .insert(releaseTracks)
    .values({ tenantId, workflowName, stableWorkflowId: workflowId })
    .onConflictDoUpdate({ target: [releaseTracks.tenantId, releaseTracks.workflowName], set: { stableWorkflowId: workflowId, updatedAt: new Date() } });
}

/** The newest published version of a name (semver order), optionally leaving one out. */
export async function newestPublishedWorkflow(db: Queryable, tenantId: string, name: string, except?: string): Promise<{ id: string; version: string } | null> {
  const rows = await db
    .select({ id: workflows.id, version: workflows.version })
    .from(workflows)
    .where(and(eq(workflows.tenantId, tenantId), eq(workflows.name, name), eq(workflows.status, 'published')));
  const candidates = rows.filter((r) => r.id !== except).sort((a, b) => compareSemver(b.version, a.version));
  return candidates[0] ?? null;
}

export async function insertReleaseRequest(db: Queryable, row: typeof releaseRequests.$inferInsert): Promise<void> {
  await db.insert(releaseRequests).values(row);
}

export interface RawArmMetrics {
  requests: number;
  denied: number;
  finished: number;
  failed: number;
  slow: number;
  p95Ms: number | null;
}

const emptyArm: RawArmMetrics = { requests: 0, denied: 0, finished: 0, failed: 0, slow: 0, p95Ms: null };

/**
 * A stage's traffic per arm: the requests routed in it (stage-tagged, so clocks do not matter),
 * and their executions that finished. Duration = finished − started (created if it never started);
 * `cancelled`/`rejected` runs are neither good nor bad and are not samples.
 */
export async function stageMetrics(db: Queryable, releaseId: string, stage: number, slowMs: number): Promise<{ stable: RawArmMetrics; canary: RawArmMetrics }> {
  const duration = sql`extract(epoch from (e.finished_at - coalesce(e.started_at, e.created_at))) * 1000`;
  const rows = await db.execute<{ arm: string; requests: string; denied: string; finished: string; failed: string; slow: string; p95: string | null }>(sql`
    select r.arm,
      count(*) as requests,
      count(*) filter (where r.denied) as denied,
      count(e.id) filter (where e.status in ('succeeded', 'failed')) as finished,
      count(e.id) filter (where e.status = 'failed') as failed,
      count(e.id) filter (where e.status in ('succeeded', 'failed') and ${duration} > ${slowMs}) as slow,
      percentile_cont(0.95) within group (order by ${duration}) filter (where e.status in ('succeeded', 'failed')) as p95
    from release_requests r
    left join executions e on e.id = r.execution_id
    where r.release_id = ${releaseId} and r.stage = ${stage}
    group by r.arm`);
  const out = { stable: { ...emptyArm }, canary: { ...emptyArm } };
  for (const r of rows) {
    if (r.arm !== 'stable' && r.arm !== 'canary') continue;
    out[r.arm] = {
      requests: Number(r.requests),
      denied: Number(r.denied),
      finished: Number(r.finished),
      failed: Number(r.failed),
      slow: Number(r.slow),
      p95Ms: r.p95 === null ? null : Math.round(Number(r.p95) * 10) / 10,
    };
  }
  return out;
}
