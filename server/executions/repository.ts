import { digestOf } from '@mc/shared/canonical-json';
import { and, asc, desc, eq, inArray, lt, or, sql } from 'drizzle-orm';
import type { Queryable } from '../db/client.ts';
import { executionLogs, executions, executionSteps, receipts, taskResults, workflows } from '../db/schema.ts';
import type { CursorPosition } from '../http/cursor.ts';

export type ExecutionRow = typeof executions.$inferSelect;
export type StepRow = typeof executionSteps.$inferSelect;
export type NewExecutionRow = typeof executions.$inferInsert;
export type NewStepRow = typeof executionSteps.$inferInsert;

export async function insertExecution(db: Queryable, row: NewExecutionRow): Promise<ExecutionRow | null> {
  const [inserted] = await db.insert(executions).values(row).onConflictDoNothing().returning();
  return inserted ?? null;
}

export async function insertSteps(db: Queryable, rows: NewStepRow[]): Promise<void> {
  // Chunked: Postgres caps a statement at 65,535 parameters and a step row has ~6.
  for (let i = 0; i < rows.length; i += 5000) await db.insert(executionSteps).values(rows.slice(i, i + 5000));
}

/** `tenantId` scopes the lookup on every request path; the worker, holding a job for the execution, looks up by id. */
export async function findExecution(db: Queryable, id: string, tenantId?: string): Promise<ExecutionRow | null> {
  const [row] = await db
    .select()
    .from(executions)
    .where(tenantId ? and(eq(executions.id, id), eq(executions.tenantId, tenantId)) : eq(executions.id, id));
  return row ?? null;
}

export async function lockExecution(db: Queryable, id: string): Promise<Pick<ExecutionRow, 'id' | 'status' | 'openSteps'> | null> {
  const [row] = await db
    .select({ id: executions.id, status: executions.status, openSteps: executions.openSteps })
    .from(executions)
    .where(eq(executions.id, id))
    .for('update');
  return row ?? null;
}

export async function findExecutionByIdempotencyKey(db: Queryable, tenantId: string, key: string): Promise<ExecutionRow | null> {
  const [row] = await db.select().from(executions).where(and(eq(executions.tenantId, tenantId), eq(executions.idempotencyKey, key)));
  return row ?? null;
}

export async function findSteps(db: Queryable, executionId: string): Promise<StepRow[]> {
  return db.select().from(executionSteps).where(eq(executionSteps.executionId, executionId)).orderBy(asc(executionSteps.taskId));
}

export async function listExecutions(
  db: Queryable,
  opts: { tenantId: string; limit: number; after: CursorPosition | null; workflowId?: string | undefined; status?: ExecutionRow['status'] | undefined },
) {
  const conditions = [
    eq(executions.tenantId, opts.tenantId),
    opts.workflowId ? eq(executions.workflowId, opts.workflowId) : undefined,
    opts.status ? eq(executions.status, opts.status) : undefined,
    opts.after
      ? or(lt(executions.createdAt, opts.after.createdAt), and(eq(executions.createdAt, opts.after.createdAt), lt(executions.id, opts.after.id)))
      : undefined,
  ].filter((c) => c !== undefined);
  return db
    .select({ execution: executions, workflowName: workflows.name, workflowVersion: workflows.version })
    .from(executions)
    .innerJoin(workflows, eq(workflows.id, executions.workflowId))
    .where(and(...conditions))
    .orderBy(desc(executions.createdAt), desc(executions.id))
    .limit(opts.limit + 1);
}

/**
 * Takes a step for a delivery. `running` is claimable too: BullMQ only re-delivers a running
 * step's job once the previous holder lost its lock (crashed or stalled). Returns null when the
 * step is not runnable (finished, or its execution is) — a duplicate delivery to ignore.
 */
export async function claimStep(db: Queryable, executionId: string, taskId: string): Promise<StepRow | null> {
  const rows = await db
    .update(executionSteps)
    .set({ status: 'running', attempts: sql`${executionSteps.attempts} + 1`, startedAt: sql`coalesce(${executionSteps.startedAt}, now())`, updatedAt: sql`now()` })
    .where(
      and(
        eq(executionSteps.executionId, executionId),
        eq(executionSteps.taskId, taskId),
        inArray(executionSteps.status, ['queued', 'running']),
        sql`exists (select 1 from ${executions} e where e.id = ${executionId} and e.status in ('pending','running'))`,
      ),
    )
    .returning();
  return rows[0] ?? null;
}

/** pending → running on the first claimed step; returns the publish→start latency source when it moved. */
export async function markExecutionStarted(db: Queryable, executionId: string): Promise<{ createdAt: Date; startedAt: Date } | null> {
  const [row] = await db
    .update(executions)
    .set({ status: 'running', startedAt: sql`now()` })
    .where(and(eq(executions.id, executionId), eq(executions.status, 'pending')))
    .returning({ createdAt: executions.createdAt, startedAt: executions.startedAt });
  return row?.startedAt ? { createdAt: row.createdAt, startedAt: row.startedAt } : null;
}

export async function findTaskResult(db: Queryable, key: string) {
  const [row] = await db.select().from(taskResults).where(eq(taskResults.idempotencyKey, key));
  return row ?? null;
}

export async function insertTaskResult(db: Queryable, row: typeof taskResults.$inferInsert) {
  await db.insert(taskResults).values(row).onConflictDoNothing();
  // Re-read: if another delivery stored first, its result is the one of record.
  return (await findTaskResult(db, row.idempotencyKey))!;
}

export async function findOutputs(db: Queryable, executionId: string, taskIds: string[]): Promise<Map<string, unknown>> {
  if (taskIds.length === 0) return new Map();
  const rows = await db
    .select({ taskId: executionSteps.taskId, output: taskResults.output })
    .from(executionSteps)
    .innerJoin(taskResults, eq(taskResults.idempotencyKey, executionSteps.idempotencyKey))
    .where(and(eq(executionSteps.executionId, executionId), inArray(executionSteps.taskId, taskIds)));
  return new Map(rows.map((r) => [r.taskId, r.output]));
}

export async function updateStep(db: Queryable, executionId: string, taskId: string, fromStatus: StepRow['status'], values: Partial<NewStepRow>): Promise<boolean> {
  const rows = await db
    .update(executionSteps)
    .set({ ...values, updatedAt: sql`now()` })
    .where(and(eq(executionSteps.executionId, executionId), eq(executionSteps.taskId, taskId), eq(executionSteps.status, fromStatus)))
    .returning({ taskId: executionSteps.taskId });
  return rows.length > 0;
}

/** One need of each dependent is met; those with none left become `queued`. */
export async function releaseDependents(db: Queryable, executionId: string, dependents: string[]): Promise<{ taskId: string; runnerClass: string }[]> {
  if (dependents.length === 0) return [];
  const rows = await db
    .update(executionSteps)
    .set({
      remainingNeeds: sql`${executionSteps.remainingNeeds} - 1`,
      status: sql`case when ${executionSteps.remainingNeeds} = 1 then 'queued' else ${executionSteps.status} end`,
      updatedAt: sql`now()`,
    })
    .where(and(eq(executionSteps.executionId, executionId), inArray(executionSteps.taskId, dependents), eq(executionSteps.status, 'pending')))
    .returning({ taskId: executionSteps.taskId, status: executionSteps.status, runnerClass: executionSteps.runnerClass });
  return rows.filter((r) => r.status === 'queued');
}

export async function skipSteps(db: Queryable, executionId: string, taskIds: string[], reason: string): Promise<number> {
  if (taskIds.length === 0) return 0;
  const rows = await db
    .update(executionSteps)
    .set({ status: 'skipped', error: reason, finishedAt: sql`now()`, updatedAt: sql`now()` })
    .where(and(eq(executionSteps.executionId, executionId), inArray(executionSteps.taskId, taskIds), eq(executionSteps.status, 'pending')))
    .returning({ taskId: executionSteps.taskId });
  return rows.length;
}

export async function decrementOpenSteps(db: Queryable, executionId: string, by: number): Promise<number> {
  const [row] = await db
    .update(executions)
    .set({ openSteps: sql`${executions.openSteps} - ${by}` })
    .where(eq(executions.id, executionId))
    .returning({ openSteps: executions.openSteps });
  return row!.openSteps;
}

export async function finishExecution(db: Queryable, executionId: string): Promise<ExecutionRow> {
  const steps = await db
    .select({ taskId: executionSteps.taskId, status: executionSteps.status, outputDigest: executionSteps.outputDigest, costUsd: executionSteps.costUsd })
    .from(executionSteps)
    .where(eq(executionSteps.executionId, executionId));
  const failed = steps.filter((s) => s.status === 'failed');
  const outputs = Object.fromEntries(steps.filter((s) => s.outputDigest).map((s) => [s.taskId, s.outputDigest]));
  const [row] = await db
    .update(executions)
    .set({
      status: failed.length > 0 ? 'failed' : 'succeeded',
      finishedAt: sql`now()`,
      outputsDigest: digestOf(outputs),
      error: failed.length > 0 ? `task${failed.length > 1 ? 's' : ''} ${failed.map((f) => f.taskId).join(', ')} failed` : null,
      costUsd: sql`(select coalesce(sum(cost_usd), 0) from execution_steps where execution_id = ${executionId})`,
    })
    .where(eq(executions.id, executionId))
    .returning();
  return row!;
}

export async function appendLogs(db: Queryable, rows: (typeof executionLogs.$inferInsert)[]): Promise<void> {
  if (rows.length > 0) await db.insert(executionLogs).values(rows);
}

export async function findLogs(db: Queryable, executionId: string, afterId: number, limit: number) {
  return db
    .select()
    .from(executionLogs)
    .where(and(eq(executionLogs.executionId, executionId), sql`${executionLogs.id} > ${afterId}`))
    .orderBy(asc(executionLogs.id))
    .limit(limit);
}

export async function findReceiptSummary(db: Queryable, executionId: string) {
  const [row] = await db
    .select({ digest: receipts.digest, storedUri: receipts.storedUri, verified: receipts.verified, createdAt: receipts.createdAt })
    .from(receipts)
    .where(eq(receipts.executionId, executionId));
  return row ?? null;
}

/** Sweeper: steps that should have a job but may have lost it (crash between commit and enqueue, Redis data loss). */
export async function findStrandedSteps(db: Queryable, olderThanMs: number, limit: number) {
  return db
    .select({ executionId: executionSteps.executionId, taskId: executionSteps.taskId, runnerClass: executionSteps.runnerClass, status: executionSteps.status })
    .from(executionSteps)
    .where(
      and(
        inArray(executionSteps.status, ['queued', 'running']),
        sql`${executionSteps.updatedAt} < now() - make_interval(secs => ${olderThanMs / 1000})`,
      ),
    )
    .orderBy(asc(executionSteps.updatedAt))
    .limit(limit);
}

/** Sweeper: terminal executions still without a receipt. */
export async function findExecutionsMissingReceipts(db: Queryable, olderThanMs: number, limit: number): Promise<string[]> {
  const rows = await db
    .select({ id: executions.id })
    .from(executions)
    .leftJoin(receipts, eq(receipts.executionId, executions.id))
    .where(
      and(
        inArray(executions.status, ['succeeded', 'failed', 'rolled_back']),
        sql`${receipts.executionId} is null`,
        sql`${executions.finishedAt} < now() - make_interval(secs => ${olderThanMs / 1000})`,
      ),
    )
    .limit(limit);
  return rows.map((r) => r.id);
}

/** Executions of a tenant not yet finished: what the concurrency quota counts. */
export async function countActiveExecutions(db: Queryable, tenantId: string): Promise<number> {
  const [row] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(executions)
    .where(and(eq(executions.tenantId, tenantId), inArray(executions.status, ['pending', 'running'])));
  return row?.n ?? 0;
}
