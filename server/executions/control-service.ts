import type { Actor } from '@mc/shared/actor';
import {
  executionApprovalInputSchema,
  executionControlInputSchema,
  executionRerunInputSchema,
  executionSignalInputSchema,
} from '@mc/shared/api';
import { digestOf } from '@mc/shared/canonical-json';
import { AppError, validationError } from '@mc/shared/errors';
import { taskPackages } from '@mc/shared/task-packages';
import type { z } from 'zod';
import type { Deps } from '../deps.ts';
import { admitQueued } from './admission.ts';
import { publishControl } from './control-channel.ts';
import { finalStatusOf, hasEnded } from './execution-outcome.ts';
import * as repo from './repository.ts';
import { getExecution, startExecution, type ExecutionView } from './service.ts';
import { readyTask } from './step-service.ts';
import { findErasure } from '../payloads/data-key-repository.ts';
import { recordTransition } from './transitions.ts';
import { loadPlan } from './workflow-plan.ts';

/**
 * Operator control of a running execution — cancel, pause, resume, signal, approve, reject,
 * rerun. Each takes the execution's row lock, checks the transition is allowed from the current
 * status (a CONFLICT names the status otherwise), records it, and only after the commit touches
 * Redis (wake a waiting job, tell workers to abort, enqueue the receipt).
 */

export const approvalPackage = 'pkg:mc/approval@1.0.0';
export const waitForEventPackage = 'pkg:mc/wait-for-event@1.0.0';

function parse<T extends z.ZodType>(schema: T, raw: unknown, what: string): z.output<T> {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw validationError(parsed.error, what);
  return parsed.data;
}

async function lockForControl(tx: Parameters<typeof repo.lockExecutionRow>[0], id: string, actor: Pick<Actor, 'tenantId'>): Promise<repo.ExecutionRow> {
  const row = await repo.lockExecutionRow(tx, id, actor.tenantId);
  if (!row) throw new AppError('NOT_FOUND', `execution ${id} not found`);
  return row;
}

function conflict(row: repo.ExecutionRow, action: string): never {
  if (row.status === 'receipt_pending') {
    // Finished: nothing can change its outcome; only the receipt is still being stored.
    throw new AppError('CONFLICT', `cannot ${action} execution ${row.id}: it has finished (${row.outcome}) and its receipt is being stored`, {
      details: { status: row.status, outcome: row.outcome },
    });
  }
  throw new AppError('CONFLICT', `cannot ${action} execution ${row.id}: it is ${row.status}`, { details: { status: row.status } });
}

/**
 * After a cancel or a rejection commits: workers holding its tasks are told to abort (pub/sub;
 * they also poll), the receipt is cut now when nothing runs, else once the running tasks stop —
 * at the latest after the grace period (a delayed receipt job) — and a concurrency slot frees.
 */
async function afterTermination(deps: Deps, ended: repo.ExecutionRow, running: number): Promise<void> {
  await publishControl(deps, { type: 'abort', executionId: ended.id, status: ended.outcome ?? ended.status });
  await deps.queues.enqueueReceipt(ended.id, running > 0 ? { delayMs: deps.config.MC_CANCEL_GRACE_MS + 1_000 } : {});
  if (ended.concurrencyKey) await admitQueued(deps, ended.tenantId, ended.concurrencyKey);
}

export async function cancelExecution(deps: Deps, raw: unknown, actor: Actor): Promise<ExecutionView> {
  const input = parse(executionControlInputSchema, raw, 'cancel request');
  const { ended, running } = await deps.db.transaction(async (tx) => {
    const row = await lockForControl(tx, input.id, actor);
    if (hasEnded(row)) conflict(row, 'cancel');
    const ended = await repo.terminateExecution(tx, row.id, 'cancelled', `cancelled by ${actor.sub}${input.reason ? `: ${input.reason}` : ''}`);
    // `to` is receipt_pending: it becomes cancelled when its receipt is stored.
    await recordTransition(tx, { type: 'mc.execution.cancelled', execution: row, from: row.status, to: ended.status, actorSub: actor.sub, data: { outcome: 'cancelled', ...(input.reason ? { reason: input.reason } : {}) } });
    return { ended, running: (await repo.findRunningSteps(tx, row.id)).length };
  });
  await afterTermination(deps, ended, running);
  return getExecution(deps, input.id, actor);
}

/** No new task starts while paused; running ones finish (and their dependents wait, `queued`, for resume). */
export async function pauseExecution(deps: Deps, raw: unknown, actor: Actor): Promise<ExecutionView> {
  const input = parse(executionControlInputSchema, raw, 'pause request');
  await deps.db.transaction(async (tx) => {
    const row = await lockForControl(tx, input.id, actor);
    if (row.status !== 'pending' && row.status !== 'running') conflict(row, 'pause');
    await repo.setExecutionStatus(tx, row.id, [row.status], { status: 'paused', pausedAt: new Date() });
    await recordTransition(tx, { type: 'mc.execution.paused', execution: row, from: row.status, to: 'paused', actorSub: actor.sub, data: input.reason ? { reason: input.reason } : {} });
  });
  return getExecution(deps, input.id, actor);
}

export async function resumeExecution(deps: Deps, raw: unknown, actor: Actor): Promise<ExecutionView> {
  const input = parse(executionControlInputSchema, raw, 'resume request');
  const row = await deps.db.transaction(async (tx) => {
    const row = await lockForControl(tx, input.id, actor);
    if (row.status !== 'paused') conflict(row, 'resume');
    const to = row.startedAt ? 'running' : 'pending';
    const resumed = await repo.setExecutionStatus(tx, row.id, ['paused'], { status: to, pausedAt: null });
    await recordTransition(tx, { type: 'mc.execution.resumed', execution: row, from: 'paused', to, actorSub: actor.sub, data: input.reason ? { reason: input.reason } : {} });
    return resumed!;
  });
  // Jobs delivered while paused were dropped (the step stayed queued or waiting): put them back.
  // A waiting step's job comes back at once, not at its wake-up time: what it waits for may have
  // come during the pause; if not, the task suspends again until its own time.
  const plan = await loadPlan(deps, row.workflowId);
  for (const step of await repo.findStepsIn(deps.db, row.id, ['queued', 'waiting'])) await deps.queues.requeueTask(readyTask(row, plan, step));
  return getExecution(deps, input.id, actor);
}

/** Sends a named event to an execution; waiting `pkg:mc/wait-for-event` steps wake up and look for theirs. */
export async function signalExecution(deps: Deps, raw: unknown, actor: Actor): Promise<{ signalId: string; executionId: string; event: string; key: string; woken: number }> {
  const input = parse(executionSignalInputSchema, raw, 'signal');
  const payloadBytes = Buffer.byteLength(JSON.stringify(input.payload ?? null), 'utf8');
  if (payloadBytes > deps.config.MC_MAX_INPUT_BYTES) throw new AppError('PAYLOAD_TOO_LARGE', `payload is ${payloadBytes} bytes; the limit is ${deps.config.MC_MAX_INPUT_BYTES}`);
  const { signal, waiting } = await deps.db.transaction(async (tx) => {
    const row = await lockForControl(tx, input.id, actor);
    if (hasEnded(row)) conflict(row, 'signal');
    const signal = await repo.insertSignal(tx, { tenantId: row.tenantId, executionId: row.id, event: input.event, key: input.key, payload: input.payload ?? null, actorSub: actor.sub });
    await recordTransition(tx, {
      type: 'mc.execution.signal.received',
      execution: row,
      actorSub: actor.sub,
      data: { event: input.event, key: input.key, payloadDigest: digestOf(input.payload ?? null), signalId: signal.id },
    });
    const waiting = (await repo.findStepsIn(tx, row.id, ['waiting'])).filter((s) => s.uses === waitForEventPackage);
    return { signal, waiting };
  });
  let woken = 0;
  for (const s of waiting) if (await deps.queues.wakeTask(s.runnerClass, s.executionId, s.taskId)) woken++;
  return { signalId: signal.id, executionId: input.id, event: input.event, key: input.key, woken };
}

/** The approval settings of a step (its `with`, validated by the package; defaults when it cannot be read statically). */
function approvalSettings(withValue: Record<string, unknown>): { approvers: number; role: string; timeoutMs: number } {
  const parsed = taskPackages[approvalPackage].with.safeParse(withValue);
  return parsed.success ? (parsed.data as { approvers: number; role: string; timeoutMs: number }) : { approvers: 1, role: 'operator', timeoutMs: 86_400_000 };
}

export interface ApprovalResult {
  executionId: string;
  taskId: string;
  decision: 'approve' | 'reject';
  /** Distinct approvals so far, and how many the step needs. */
  approvals: number;
  required: number;
  status: repo.ExecutionStatus;
  /** After a rejection: `rejected`, while the status is `receipt_pending` (until the receipt is stored). */
  outcome: repo.ExecutionRow['outcome'];
}

/**
 * One approver's decision on a waiting approval step. The requester of the run (its actor) can
 * never approve it; an approver needs the step's role (admins may stand in for any role); each
 * approver decides once per step. Enough approvals wake the step, which succeeds; one rejection
 * ends the run `rejected` (with a receipt).
 */
export async function decideApproval(deps: Deps, raw: unknown, actor: Actor, decision: 'approve' | 'reject'): Promise<ApprovalResult> {
  const input = parse(executionApprovalInputSchema, raw, `${decision} request`);
  const outcome = await deps.db.transaction(async (tx) => {
    const row = await lockForControl(tx, input.id, actor);
    if (hasEnded(row) || row.status === 'queued') conflict(row, decision);
    const candidates = (await repo.findStepsIn(tx, row.id, ['waiting', 'running'])).filter((s) => s.uses === approvalPackage && (!input.taskId || s.taskId === input.taskId));
    if (candidates.length === 0) throw new AppError('CONFLICT', `execution ${row.id} has no approval step waiting${input.taskId ? ` named ${input.taskId}` : ''}`);
    if (candidates.length > 1) throw new AppError('VALIDATION', `execution ${row.id} has ${candidates.length} approval steps waiting; name one with taskId`, { issues: [{ path: 'taskId', message: 'required' }] });
    const step = candidates[0]!;
    const plan = await loadPlan({ db: tx }, row.workflowId);
    const settings = approvalSettings(plan.tasks.get(step.taskId)?.with ?? {});
    if (decision === 'approve' && actor.sub === row.actorSub) {
      throw new AppError('FORBIDDEN', 'the requester of a run may not approve it; another person must', { details: { requester: row.actorSub } });
    }
    if (actor.role !== settings.role && actor.role !== 'admin') {
      throw new AppError('FORBIDDEN', `step ${step.taskId} needs approvers with role ${settings.role}; you are ${actor.role}`, { details: { role: settings.role } });
    }
    const recorded = await repo.insertApproval(tx, { executionId: row.id, tenantId: row.tenantId, taskId: step.taskId, actorSub: actor.sub, actorRole: actor.role, decision, comment: input.comment ?? null });
    if (!recorded) throw new AppError('CONFLICT', `${actor.sub} has already decided on step ${step.taskId}`);
    await recordTransition(tx, { type: 'mc.execution.approval.recorded', execution: row, actorSub: actor.sub, data: { taskId: step.taskId, decision, role: actor.role } });
    const approvals = (await repo.findApprovals(tx, row.id, step.taskId)).filter((a) => a.decision === 'approve').length;
    if (decision === 'reject') {
      const reason = `rejected by ${actor.sub}${input.comment ? `: ${input.comment}` : ''}`;
      await repo.updateStep(tx, row.id, step.taskId, step.status, { status: 'failed', error: reason, finishedAt: new Date() });
      const ended = await repo.terminateExecution(tx, row.id, 'rejected', reason);
      await recordTransition(tx, { type: 'mc.execution.rejected', execution: row, from: row.status, to: ended.status, actorSub: actor.sub, data: { outcome: 'rejected', taskId: step.taskId } });
      return { row: ended, step, approvals, required: settings.approvers, running: (await repo.findRunningSteps(tx, row.id)).length };
    }
    return { row, step, approvals, required: settings.approvers, running: 0 };
  });
  if (decision === 'reject') await afterTermination(deps, outcome.row, outcome.running);
  else if (outcome.approvals >= outcome.required) await deps.queues.wakeTask(outcome.step.runnerClass, outcome.row.id, outcome.step.taskId);
  return { executionId: outcome.row.id, taskId: outcome.step.taskId, decision, approvals: outcome.approvals, required: outcome.required, status: outcome.row.status, outcome: outcome.row.outcome };
}

const rerunnable: readonly string[] = ['failed', 'cancelled', 'rejected'];

/**
 * A new execution of the same workflow version and inputs that picks up where a failed (or
 * cancelled, or rejected) one stopped: only the steps that did not succeed run. Policy is
 * evaluated again, for the caller, as for any start.
 */
export async function rerunExecution(deps: Deps, raw: unknown, actor: Actor, opts: { traceId?: string; traceparent?: string } = {}): Promise<ExecutionView> {
  const input = parse(executionRerunInputSchema, raw, 'rerun request');
  const original = await repo.findExecution(deps.db, input.id, actor.tenantId);
  if (!original) throw new AppError('NOT_FOUND', `execution ${input.id} not found`);
  const final = finalStatusOf(original);
  if (!final || !rerunnable.includes(final)) {
    if (original.status !== 'receipt_pending') conflict(original, 'rerun');
    throw new AppError('CONFLICT', `cannot rerun execution ${original.id}: it finished ${final}`, { details: { status: original.status, outcome: final } });
  }
  if (original.status === 'receipt_pending') {
    // Its receipt fixes what the original did; a rerun starts from that record, so it waits for it.
    throw new AppError('CONFLICT', `cannot rerun execution ${original.id} yet: it has finished (${final}) and its receipt is being stored; rerun it once the receipt is stored`, {
      details: { status: original.status, outcome: final },
      retryAfterSeconds: 2,
    });
  }
  // Its inputs and stored results are unreadable after a cryptographic erase: nothing to rerun from.
  if (await findErasure(deps.db, original.id)) {
    throw new AppError('CONFLICT', `execution ${original.id} was erased; its inputs and results cannot be reused — start a new execution instead`);
  }
  const { execution } = await startExecution(
    deps,
    { workflowId: original.workflowId, inputs: original.inputs as Record<string, unknown>, region: original.region, priority: original.priority },
    actor,
    { ...opts, rerunOf: original },
  );
  return execution;
}

export interface TransitionView {
  id: number;
  type: string;
  from: string | null;
  to: string | null;
  actorSub: string;
  data: unknown;
  at: Date;
}

/** The recorded control-flow history of an execution, oldest first. */
export async function executionTransitions(deps: Deps, id: string, actor: Pick<Actor, 'tenantId'>): Promise<TransitionView[]> {
  if (!(await repo.findExecution(deps.db, id, actor.tenantId))) throw new AppError('NOT_FOUND', `execution ${id} not found`);
  const rows = await repo.findTransitions(deps.db, { executionId: id });
  return rows.map((r) => ({ id: r.id, type: r.type, from: r.fromStatus, to: r.toStatus, actorSub: r.actorSub, data: r.data, at: r.createdAt }));
}
