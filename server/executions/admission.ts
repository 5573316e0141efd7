import { sql } from 'drizzle-orm';
import { sha256Hex } from '@mc/shared/canonical-json';
import type { Manifest } from '@mc/shared/manifest';
import { expandTemplates, TemplateError } from '@mc/shared/templates';
import { AppError } from '@mc/shared/errors';
import type { Queryable } from '../db/client.ts';
import type { Deps } from '../deps.ts';
import type { ReadyTask } from '../queue/task-queues.ts';
import * as repo from './repository.ts';
import { recordTransition } from './transitions.ts';
import { loadPlan } from './workflow-plan.ts';

/**
 * Concurrency limits (manifest `concurrency: {limit, key?}`): at most `limit` executions of a
 * workflow (any version) per evaluated key are pending, running or paused at once; the rest wait
 * `queued`, with no task enqueued, and are admitted — higher priority first, then oldest — as
 * slots free up. Admission for a key is serialised by a transaction-scoped advisory lock, so two
 * starts or two finishes racing for the last slot cannot both take it.
 */

// The first half of the two-key advisory lock: keeps these locks apart from any other user of advisory locks.
const lockNamespace = 4111;

/** `<workflow name>/<key>`; the key is the manifest's template evaluated over the inputs. Null when the workflow declares no limit. */
export function concurrencyKeyOf(manifest: Pick<Manifest, 'name' | 'concurrency'>, inputs: Record<string, unknown>): string | null {
  if (!manifest.concurrency) return null;
  if (!manifest.concurrency.key) return `${manifest.name}/*`;
  let value: unknown;
  try {
    value = expandTemplates(manifest.concurrency.key, { inputs, tasks: {} });
  } catch (e) {
    if (e instanceof TemplateError) throw new AppError('VALIDATION', `concurrency.key: ${e.message}`, { issues: [{ path: 'inputs', message: e.message }] });
    throw e;
  }
  const text = typeof value === 'string' ? value : JSON.stringify(value ?? null);
  // Long or odd keys are hashed so the column stays small; the hash is as good a key as the text.
  return `${manifest.name}/${text.length <= 120 ? text : `sha256:${sha256Hex(text)}`}`;
}

export async function lockConcurrencyKey(tx: Queryable, tenantId: string, key: string): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(${lockNamespace}, hashtext(${`${tenantId}/${key}`}))`);
}

/** Whether a new execution with this key may start now (the caller holds the key's lock). */
export async function hasFreeSlot(tx: Queryable, tenantId: string, key: string, limit: number): Promise<boolean> {
  return (await repo.countConcurrencyHolders(tx, tenantId, key)) < limit;
}

/** Admits queued executions of a key while slots are free, then enqueues their root tasks. Returns how many. */
export async function admitQueued(deps: Pick<Deps, 'db' | 'queues'>, tenantId: string, key: string): Promise<number> {
  const admitted = await deps.db.transaction(async (tx) => {
    await lockConcurrencyKey(tx, tenantId, key);
    let holders = await repo.countConcurrencyHolders(tx, tenantId, key);
    const candidates = await repo.findQueuedForKey(tx, tenantId, key, 100);
    const rows: repo.ExecutionRow[] = [];
    for (const c of candidates) {
      if (holders >= (c.concurrencyLimit ?? 1)) break;
      const row = await repo.setExecutionStatus(tx, c.id, ['queued'], { status: 'pending' });
      if (!row) continue;
      holders++;
      rows.push(row);
      await recordTransition(tx, { type: 'mc.execution.admitted', execution: row, from: 'queued', to: 'pending', actorSub: 'mc:engine', data: { concurrencyKey: key } });
    }
    return rows;
  });
  for (const row of admitted) await enqueueRoots(deps, row);
  return admitted.length;
}

/** Enqueues an execution's steps that are `queued` (its roots when it has just been admitted). */
export async function enqueueRoots(deps: Pick<Deps, 'db' | 'queues'>, row: Pick<repo.ExecutionRow, 'id' | 'tenantId' | 'priority'>, traceparent?: string): Promise<void> {
  const steps = await repo.findStepsIn(deps.db, row.id, ['queued']);
  const execution = await repo.findExecution(deps.db, row.id);
  if (!execution || steps.length === 0) return;
  const plan = await loadPlan(deps, execution.workflowId);
  const ready: ReadyTask[] = steps.map((s) => ({
    executionId: row.id,
    tenantId: row.tenantId,
    taskId: s.taskId,
    runnerClass: s.runnerClass,
    retries: plan.tasks.get(s.taskId)?.retries ?? 0,
    priority: row.priority,
    workflowId: execution.workflowId,
    uses: s.uses,
  }));
  await deps.queues.enqueueTasks(ready, traceparent);
}

/**
 * Backpressure (issue 9): above MC_MAX_QUEUE_DEPTH ready tasks waiting — on the task queues or
 * staged for them — a start is refused with 429 rather than growing Redis without bound. The depth
 * is cached for a second per process, so a burst of starts costs one Redis round trip, not one each.
 */
const depthCacheMs = 1_000;
const depthCache = new WeakMap<object, { at: number; depth: Promise<number> }>();

async function readQueueDepth(deps: Pick<Deps, 'queues' | 'config'>): Promise<number> {
  const perClass = await Promise.all(
    deps.config.WORKER_RUNNER_CLASSES.map(async (rc) => {
      const [counts, staged] = await Promise.all([deps.queues.queueFor(rc).getJobCounts('wait', 'prioritized'), deps.queues.fair.stagedCount(rc)]);
      return (counts.wait ?? 0) + (counts.prioritized ?? 0) + staged;
    }),
  );
  return perClass.reduce((a, b) => a + b, 0);
}

export async function assertQueueHasRoom(deps: Pick<Deps, 'queues' | 'config' | 'logger'>): Promise<void> {
  const now = Date.now();
  let cached = depthCache.get(deps.queues);
  if (!cached || now - cached.at > depthCacheMs) {
    cached = { at: now, depth: readQueueDepth(deps) };
    depthCache.set(deps.queues, cached);
  }
  let depth: number;
  try {
    depth = await cached.depth;
  } catch (err) {
    // Redis unreadable: the start's own writes decide (the execution is durable in Postgres and the
    // sweeper enqueues it); a failed reading is not kept.
    if (depthCache.get(deps.queues) === cached) depthCache.delete(deps.queues);
    deps.logger.debug({ err }, 'queue depth unreadable; admitting');
    return;
  }
  const limit = deps.config.MC_MAX_QUEUE_DEPTH;
  if (depth >= limit) {
    throw new AppError('RATE_LIMITED', `backpressure: ${depth} tasks are waiting for workers; the limit is ${limit}`, { retryAfterSeconds: 5, details: { queueDepth: depth, limit } });
  }
}
