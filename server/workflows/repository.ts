import { and, desc, eq, lt, or } from 'drizzle-orm';
import type { Queryable } from '../db/client.ts';
import { workflows } from '../db/schema.ts';
import type { CursorPosition } from '../http/cursor.ts';

export type WorkflowRow = typeof workflows.$inferSelect;
export type NewWorkflowRow = typeof workflows.$inferInsert;

export async function insertWorkflow(db: Queryable, row: NewWorkflowRow): Promise<WorkflowRow | null> {
  const [inserted] = await db.insert(workflows).values(row).onConflictDoNothing({ target: [workflows.tenantId, workflows.name, workflows.version] }).returning();
  return inserted ?? null;
}

/** `tenantId` scopes the lookup (every request path passes it); the worker, holding an execution, looks up by id alone. */
export async function findWorkflow(db: Queryable, id: string, opts: { tenantId?: string; forUpdate?: boolean } = {}): Promise<WorkflowRow | null> {
  const q = db
    .select()
    .from(workflows)
    .where(opts.tenantId ? and(eq(workflows.id, id), eq(workflows.tenantId, opts.tenantId)) : eq(workflows.id, id));
  const [row] = opts.forUpdate ? await q.for('update') : await q;
  return row ?? null;
}

/**
 * Published workflows never change (a change is a new version, a new row), so the hot paths —
 * every start, every task, every receipt — read them from a per-process cache (bounded, oldest
 * out first). Drafts are always read from the database.
 */
const publishedWorkflows = new Map<string, WorkflowRow>();
const publishedCacheLimit = 1000;

export async function findPublishedWorkflowCached(db: Queryable, id: string, opts: { tenantId?: string } = {}): Promise<WorkflowRow | null> {
  const hit = publishedWorkflows.get(id);
  if (hit) return !opts.tenantId || hit.tenantId === opts.tenantId ? hit : null;
  const row = await findWorkflow(db, id, opts);
  if (row?.status === 'published') {
    if (publishedWorkflows.size >= publishedCacheLimit) publishedWorkflows.delete(publishedWorkflows.keys().next().value!);
    publishedWorkflows.set(id, row);
  }
  return row;
}

export async function findWorkflowByNameVersion(db: Queryable, tenantId: string, name: string, version: string): Promise<WorkflowRow | null> {
  const [row] = await db.select().from(workflows).where(and(eq(workflows.tenantId, tenantId), eq(workflows.name, name), eq(workflows.version, version)));
  return row ?? null;
}

export async function updateWorkflow(db: Queryable, id: string, values: Partial<NewWorkflowRow>): Promise<WorkflowRow> {
  const [row] = await db.update(workflows).set(values).where(eq(workflows.id, id)).returning();
  if (!row) throw new Error(`workflow ${id} vanished during update`);
  return row;
}

export async function listWorkflows(
  db: Queryable,
  opts: { tenantId: string; limit: number; after: CursorPosition | null; name?: string | undefined; status?: 'draft' | 'published' | undefined },
): Promise<WorkflowRow[]> {
  const conditions = [
    eq(workflows.tenantId, opts.tenantId),
    opts.name ? eq(workflows.name, opts.name) : undefined,
    opts.status ? eq(workflows.status, opts.status) : undefined,
    opts.after
      ? or(lt(workflows.createdAt, opts.after.createdAt), and(eq(workflows.createdAt, opts.after.createdAt), lt(workflows.id, opts.after.id)))
      : undefined,
  ].filter((c) => c !== undefined);
  return db
    .select()
    .from(workflows)
    .where(and(...conditions))
    .orderBy(desc(workflows.createdAt), desc(workflows.id))
    .limit(opts.limit + 1);
}

export async function listPublishedVersions(db: Queryable, tenantId: string, name: string): Promise<string[]> {
  const rows = await db
    .select({ version: workflows.version })
    .from(workflows)
    .where(and(eq(workflows.tenantId, tenantId), eq(workflows.name, name), eq(workflows.status, 'published')));
  return rows.map((r) => r.version);
}
