import { canonicalJson, digestOf, sha256Hex } from '@mc/shared/canonical-json';
import type { Manifest, Task } from '@mc/shared/manifest';
import { expandTemplates, referencedSecrets, referencedTasks, referencesInputs, TemplateError } from '@mc/shared/templates';
import { isKnownPackage, taskPackages } from '@mc/shared/task-packages';
import { redact } from '@mc/shared/redaction';
import { groupCommitOf } from '../db/group-commit.ts';
import type { Deps } from '../deps.ts';
import { publishToStartMs } from '../observability/metrics.ts';
import { openExecution, sealTaskResult } from '../payloads/payload-boundary.ts';
import type { DataKeyRow } from '../payloads/data-key-repository.ts';
import type { ReadyTask } from '../queue/task-queues.ts';
import { admitQueued } from './admission.ts';
import { stoppedAs } from './execution-outcome.ts';
import { logLineGroupOf } from './log-line-group.ts';
import { recordTransition } from './transitions.ts';
import { findWorkflow } from '../workflows/repository.ts';
import * as repo from './repository.ts';
import { descendantsOf, loadPlan, type WorkflowPlan } from './workflow-plan.ts';

/**
 * The execution state machine, step by step. Postgres holds the truth; every transition of an
 * execution's steps runs under a row lock on the execution, so concurrent completions of
 * sibling tasks cannot both miss (or both release) their common dependent.
 */

export interface StepContext {
  execution: repo.ExecutionRow;
  step: repo.StepRow;
  plan: WorkflowPlan;
  task: Task;
  /** The task's `with` after template expansion, validated by its package. */
  input: Record<string, unknown>;
  /** sha256(tenant, scope, manifest digest, task id, input): spec §11, scoped by the tenant and the execution's idempotency token. */
  idempotencyKey: string;
  storedResult: { output: unknown; outputDigest: string } | null;
  /** The secret values expanded into `input`: mask them out of everything stored (output, logs, errors). */
  secretValues: string[];
  /** The execution's data key row, read with the claim: its output is sealed under it without a second read. */
  dataKey: DataKeyRow | null;
}

/**
 * How the worker lends `beginStep` its secret provider (server code never imports the worker):
 * the values for the given names that exist; a missing one fails the step as `secret NAME is not set`.
 */
export type SecretResolver = (names: string[]) => Promise<Record<string, string>>;

export class PermanentStepError extends Error {}

export { loadPlan };

/** A rerun shares its original's scope (`idempotency_scope`), so the steps it repeats find the original's stored results and keys. */
export function idempotencyScope(execution: Pick<repo.ExecutionRow, 'id' | 'idempotencyKey'> & { idempotencyScope?: string | null }): string {
  return execution.idempotencyScope ?? execution.idempotencyKey ?? execution.id;
}

/**
 * The tenant is part of the key: the scope may be a client's idempotency token, which two tenants
 * can both choose — without it, one tenant's step would be answered with the other's stored result.
 */
export function taskIdempotencyKey(tenantId: string, scope: string, manifestDigest: string, taskId: string, input: unknown): string {
  return sha256Hex(canonicalJson({ tenantId, scope, manifestDigest, taskId, input }));
}

/** Claims the step for this delivery and gathers what running it needs; null for a delivery to ignore. */
export async function beginStep(
  deps: Pick<Deps, 'db'>,
  executionId: string,
  taskId: string,
  opts: { resolveSecrets?: SecretResolver } = {},
): Promise<StepContext | null> {
  // One statement: the claim (which starts a pending execution), with the execution row and its
  // data key (for the inputs and the output).
  const claim = await repo.claimStep(deps.db, executionId, taskId);
  if (!claim) return null;
  const { step, started, dataKey } = claim;
  let sealed = claim.execution;
  if (started) {
    publishToStartMs.observe(started.startedAt.getTime() - started.createdAt.getTime());
    sealed = { ...sealed, status: 'running', startedAt: started.startedAt };
  }
  const plan = await loadPlan(deps, sealed.workflowId);
  const task = plan.tasks.get(taskId);
  if (!task) throw new PermanentStepError(`task ${taskId} is not in the workflow's manifest`);
  // Inputs are decrypted only for a task whose `with` reads them; otherwise they stay out of reach (empty).
  const execution = referencesInputs(task.with) ? await openExecution(deps.db, sealed, dataKey) : { ...sealed, inputs: {} };
  const upstream = referencedTasks(task.with);
  const outputs = await repo.findOutputs(deps.db, executionId, upstream);
  const secretNames = referencedSecrets(task.with);
  // Resolved here, in the worker's process, at run time; the values are never written anywhere.
  const secrets = secretNames.length > 0 && opts.resolveSecrets ? await opts.resolveSecrets(secretNames) : {};
  const scope = {
    inputs: execution.inputs as Record<string, unknown>,
    tasks: Object.fromEntries([...outputs].map(([id, output]) => [id, { output }])),
  };
  let input: Record<string, unknown>;
  // Spec §11 key material without secret values: a digest of a secret must not leave as `Idempotency-Key`,
  // and rotating a secret must not turn a retry into a second action.
  let keyInput: unknown = null;
  try {
    input = expandTemplates(task.with, { ...scope, secrets }) as Record<string, unknown>;
    if (secretNames.length > 0) keyInput = expandTemplates(task.with, { ...scope, secrets: Object.fromEntries(secretNames.map((n) => [n, `\${{ secrets.${n} }}`])) });
  } catch (e) {
    if (e instanceof TemplateError) throw new PermanentStepError(`with: ${e.message}`);
    throw e;
  }
  if (!isKnownPackage(task.uses)) throw new PermanentStepError(`unknown package ${task.uses}`);
  const parsed = taskPackages[task.uses].with.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new PermanentStepError(`with.${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`);
  }
  const keyScope = idempotencyScope(execution);
  const idempotencyKey = taskIdempotencyKey(execution.tenantId, keyScope, plan.manifestDigest, taskId, secretNames.length > 0 ? keyInput : parsed.data);
  // A result under this key can only have been stored by an earlier delivery of this very step
  // when the key covers the execution's own id (no rerun, no client idempotency key) — and that
  // delivery claimed the step first, so this claim counted a second attempt. A first attempt of
  // such a step has nothing to find: the lookup is skipped.
  const stored = keyScope === execution.id && step.attempts <= 1 ? null : await repo.findTaskResult(deps.db, idempotencyKey);
  return {
    execution,
    step,
    plan,
    task,
    input: parsed.data,
    idempotencyKey,
    storedResult: stored ? { output: stored.output, outputDigest: stored.outputDigest } : null,
    secretValues: Object.values(secrets),
    dataKey,
  };
}

export interface Transition {
  ready: ReadyTask[];
  finished: repo.ExecutionRow | null;
  /** The finished execution's steps, when the transition read them (its receipt need not read them again). */
  steps?: repo.StepRow[];
  /** The execution was cancelled or rejected while this step ran: the caller records the step `cancelled`. */
  stopped?: boolean;
}

/** Cancelled or rejected (its receipt pending or stored) while the step ran: the caller records the step `cancelled`. */
const stoppedTransition = (row: Pick<repo.ExecutionRow, 'status' | 'outcome'> | null | undefined): Transition => ({ ready: [], finished: null, stopped: !!row && stoppedAs(row) !== null });

/** While paused, steps still finish (and release their dependents), but nothing new is enqueued until resume. */
const movableStatuses: readonly repo.ExecutionStatus[] = ['pending', 'running', 'paused'];

export function readyTask(execution: Pick<repo.ExecutionRow, 'id' | 'tenantId' | 'priority' | 'workflowId'>, plan: WorkflowPlan, step: { taskId: string; runnerClass: string }): ReadyTask {
  const task = plan.tasks.get(step.taskId);
  return {
    executionId: execution.id,
    tenantId: execution.tenantId,
    taskId: step.taskId,
    runnerClass: step.runnerClass,
    retries: task?.retries ?? 0,
    priority: execution.priority,
    workflowId: execution.workflowId,
    ...(task ? { uses: task.uses } : {}),
  };
}

async function finished(tx: Parameters<typeof repo.finishExecution>[0], executionId: string, steps?: readonly repo.StepRow[]): Promise<repo.ExecutionRow> {
  const row = await repo.finishExecution(tx, executionId, steps);
  // `to` is the status it now has (receipt_pending); the outcome it takes with its receipt goes in `data`.
  await recordTransition(tx, { type: 'mc.execution.finished', execution: row, from: 'running', to: row.status, actorSub: 'mc:engine', data: { outcome: row.outcome, ...(row.error ? { error: row.error } : {}) } });
  return row;
}

/** Stores the result (once per idempotency key), marks the step succeeded and releases its dependents. */
export async function completeStep(deps: Pick<Deps, 'db'>, ctx: StepContext, output: unknown, opts: { fromStore: boolean }): Promise<Transition> {
  // The result is stored by the completion's own statement (once per idempotency key), unless an
  // earlier delivery stored it already.
  const sealed = ctx.storedResult
    ? undefined
    : await sealTaskResult(
        deps.db,
        { idempotencyKey: ctx.idempotencyKey, tenantId: ctx.execution.tenantId, executionId: ctx.execution.id, taskId: ctx.task.id, output: output ?? null, outputDigest: digestOf(output ?? null) },
        ctx.dataKey,
      );
  const pkg = isKnownPackage(ctx.task.uses) ? taskPackages[ctx.task.uses] : null;
  const completion = {
    executionId: ctx.execution.id,
    taskId: ctx.task.id,
    idempotencyKey: ctx.idempotencyKey,
    outputDigest: ctx.storedResult?.outputDigest ?? sealed!.outputDigest,
    costUsd: opts.fromStore || !pkg ? '0' : pkg.costUsd,
    finishedAt: new Date(),
    durationMs: ctx.step.startedAt ? Date.now() - ctx.step.startedAt.getTime() : null,
  };
  const dependents = ctx.plan.dependents.get(ctx.task.id) ?? [];
  const released = (done: repo.StepCompletion) => (done.locked?.status === 'paused' ? [] : done.released.map((r) => readyTask(ctx.execution, ctx.plan, r)));
  if (dependents.length > 0) {
    // A step with dependents is the last open one only when they were all skipped (a sibling
    // failed): its completion is the one statement alone, no transaction around it; when it does
    // close the last open step, the finish takes a transaction of its own (and, should this
    // process die in between, the sweeper finishes the run: every step has ended).
    const done = await repo.completeStepStatement(deps.db, completion, movableStatuses, dependents, sealed);
    if (!done.locked) return stoppedTransition(await repo.findExecutionSealed(deps.db, ctx.execution.id));
    if (!done.moved) return { ready: [], finished: null };
    if (done.locked.openSteps !== 0) return { ready: released(done), finished: null };
    return finishIfNoneOpen(deps, ctx.execution.id);
  }
  // Shared with the completions that come with it (group commit), keyed by the execution whose
  // row the completion locks, so groups lock executions in one order.
  return groupCommitOf(deps.db).run(async (tx) => {
    // Pipelined: the steps read runs after the completion on the same transaction, so it sees this
    // step succeeded — and returns rows only when no step is left open (the run finishes here).
    const [done, finalSteps] = await Promise.all([repo.completeStepStatement(tx, completion, movableStatuses, dependents, sealed), repo.findStepsIfNoneOpen(tx, ctx.execution.id)]);
    if (!done.locked) return stoppedTransition(await repo.lockExecution(tx, ctx.execution.id));
    // Not moved: a duplicate delivery found the step moved already; nothing was counted.
    if (!done.moved || done.locked.openSteps !== 0) return { ready: done.moved ? released(done) : [], finished: null };
    if (finalSteps.length === 0) return { ready: [], finished: await finished(tx, ctx.execution.id) };
    return { ready: [], finished: await finished(tx, ctx.execution.id, finalSteps), steps: finalSteps };
  }, ctx.execution.id);
}

/** Finishes the execution when no step is left open and it is still movable (nobody finished it meanwhile). */
async function finishIfNoneOpen(deps: Pick<Deps, 'db'>, executionId: string): Promise<Transition> {
  return deps.db.transaction(async (tx) => {
    const [locked, steps] = await Promise.all([repo.lockExecution(tx, executionId), repo.findStepsIfNoneOpen(tx, executionId)]);
    if (!locked || locked.openSteps !== 0 || !movableStatuses.includes(locked.status) || steps.length === 0) return { ready: [], finished: null };
    return { ready: [], finished: await finished(tx, executionId, steps), steps };
  });
}

/** A failed attempt that will be retried: the step goes back to `queued` with the error on record. */
export async function recordRetryableFailure(deps: Pick<Deps, 'db'>, ctx: StepContext, message: string): Promise<Transition | null> {
  const current = await repo.findExecutionSealed(deps.db, ctx.execution.id);
  // Stopped meanwhile: no retry; the caller records the step cancelled.
  if (current && stoppedAs(current)) return stoppedTransition(current);
  await repo.updateStep(deps.db, ctx.execution.id, ctx.task.id, 'running', { status: 'queued', error: message });
  return null;
}

/** The last attempt failed: the step fails, everything downstream is skipped, the execution may finish. */
export async function failStep(deps: Pick<Deps, 'db'>, executionId: string, taskId: string, message: string): Promise<Transition> {
  const execution = await repo.findExecutionSealed(deps.db, executionId);
  if (!execution) return { ready: [], finished: null };
  const plan = await loadPlan(deps, execution.workflowId);
  return deps.db.transaction(async (tx) => {
    const locked = await repo.lockExecution(tx, executionId);
    if (!locked || !movableStatuses.includes(locked.status)) return stoppedTransition(locked);
    // A step fails from `running` (its attempt failed) or from `waiting` (a wait or an approval timed out while no worker held it).
    // (and from `queued`, when the reaper gives up on a step whose job kept getting lost).
    const moved =
      (await repo.updateStep(tx, executionId, taskId, 'running', { status: 'failed', error: message, finishedAt: new Date() })) ||
      (await repo.updateStep(tx, executionId, taskId, 'waiting', { status: 'failed', error: message, finishedAt: new Date() })) ||
      (await repo.updateStep(tx, executionId, taskId, 'queued', { status: 'failed', error: message, finishedAt: new Date() }));
    if (!moved) return { ready: [], finished: null };
    const skipped = await repo.skipSteps(tx, executionId, descendantsOf(plan, taskId), `upstream task ${taskId} failed`);
    const open = await repo.decrementOpenSteps(tx, executionId, 1 + skipped);
    return { ready: [], finished: open === 0 ? await finished(tx, executionId) : null };
  });
}

/**
 * Enqueues what a transition made ready, the runs a finished execution's concurrency slot lets
 * in, and its receipt. `issueReceipt`: the worker that finished the run cuts the receipt itself,
 * saving a job's round trip through Redis; when that does not store it (an object-store fault,
 * say) the receipt job takes over, with its retries — and if this process dies first, the
 * sweeper enqueues it, since the execution stays `receipt_pending`.
 */
export async function applyTransition(
  deps: Pick<Deps, 'queues' | 'db'>,
  t: Transition,
  traceparent?: string,
  opts: { issueReceipt?: (finished: repo.ExecutionRow, steps?: repo.StepRow[]) => Promise<boolean> } = {},
): Promise<void> {
  if (t.ready.length > 0) await deps.queues.enqueueTasks(t.ready, traceparent);
  if (t.finished) {
    if (t.finished.concurrencyKey) await admitQueued(deps, t.finished.tenantId, t.finished.concurrencyKey);
    const issued = opts.issueReceipt ? await opts.issueReceipt(t.finished, t.steps) : false;
    if (!issued) await deps.queues.enqueueReceipt(t.finished.id);
  }
}

/**
 * Durable wait: the step becomes `waiting` until `wakeAt` (its job is moved to BullMQ's delayed
 * set by the caller, so no worker slot is held). False when the step is no longer running.
 */
export async function suspendStep(deps: Pick<Deps, 'db'>, ctx: StepContext, wakeAt: Date): Promise<boolean> {
  return repo.markStepWaiting(deps.db, ctx.execution.id, ctx.task.id, wakeAt);
}

/**
 * A task of an execution that was cancelled or rejected while it ran has stopped (or was
 * abandoned after the grace period): its step is recorded `cancelled`. Returns true when no step
 * of the execution is still running, i.e. its receipt can be cut now.
 */
export async function settleStoppedStep(deps: Pick<Deps, 'db'>, executionId: string, taskId: string, reason: string): Promise<boolean> {
  await repo.updateStep(deps.db, executionId, taskId, 'running', { status: 'cancelled', error: reason, finishedAt: new Date() });
  return (await repo.findRunningSteps(deps.db, executionId)).length === 0;
}

export async function appendStepLog(
  deps: Pick<Deps, 'db'>,
  entry: { tenantId: string; executionId: string; taskId: string; attempt: number; level: 'info' | 'warn' | 'error'; message: string; data?: unknown },
): Promise<void> {
  // Grouped with the lines other tasks log meanwhile (log-line-group.ts); settles once this one is stored.
  await logLineGroupOf(deps.db).append({
    tenantId: entry.tenantId,
    executionId: entry.executionId,
    taskId: entry.taskId,
    attempt: entry.attempt,
    level: entry.level,
    message: String(redact(entry.message)),
    data: entry.data === undefined ? null : redact(entry.data),
  });
}
