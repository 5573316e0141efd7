import type { Actor } from '@mc/shared/actor';
import { startExecutionInputSchema, executionListInputSchema } from '@mc/shared/api';
import { digestOf } from '@mc/shared/canonical-json';
import { AppError, validationError } from '@mc/shared/errors';
import type { Manifest } from '@mc/shared/manifest';
import { findNulPath } from '@mc/shared/json-text';
import { redact } from '@mc/shared/redaction';
import type { z } from 'zod';
import { appendAuditEvents } from '../audit/audit-writer.ts';
import type { Transaction } from '../db/client.ts';
import { groupCommitOf } from '../db/group-commit.ts';
import type { Deps } from '../deps.ts';
import { decodeCursor, toPage, type Page } from '../http/cursor.ts';
import { findPublishedWorkflowCached, findWorkflow } from '../workflows/repository.ts';
import { findDecisionsForExecution } from '../policy/decision-repository.ts';
import { decisionView, type DecisionView, evaluateExecute, recordDecisions, refuse } from '../policy/policy-service.ts';
import { assertQueueHasRoom, concurrencyKeyOf, enqueueRoots, hasFreeSlot, lockConcurrencyKey } from './admission.ts';
import { recordDeniedRouting, recordRouting, resolveStartTarget, sameStartTarget } from '../releases/routing.ts';
import * as repo from './repository.ts';
import { recordTransition } from './transitions.ts';
import { loadPlan, type WorkflowPlan } from './workflow-plan.ts';

export interface StepView {
  taskId: string;
  uses: string;
  runnerClass: string;
  status: repo.StepRow['status'];
  attempts: number;
  startedAt: Date | null;
  finishedAt: Date | null;
  durationMs: number | null;
  outputDigest: string | null;
  error: string | null;
  /** A waiting step's wake-up time: its sleep's end, or its wait's or approval's deadline. */
  wakeAt: Date | null;
}

export interface ExecutionSummary {
  id: string;
  workflowId: string;
  workflowName: string;
  workflowVersion: string;
  status: repo.ExecutionRow['status'];
  /** While `receipt_pending`: the terminal status it takes once its receipt is stored; otherwise null. */
  outcome: repo.ExecutionRow['outcome'];
  region: string;
  actorSub: string;
  rollout: string | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  costUsd: string;
  error: string | null;
  priority: repo.ExecutionRow['priority'];
  /** Set when the workflow declares a concurrency limit: runs with the same key take turns. */
  concurrencyKey: string | null;
  rerunOf: string | null;
  scheduleId: string | null;
  pausedAt: Date | null;
}

export interface ApprovalView {
  taskId: string;
  actorSub: string;
  actorRole: string;
  decision: 'approve' | 'reject';
  comment: string | null;
  at: Date;
}

export interface ExecutionView extends ExecutionSummary {
  idempotencyKey: string | null;
  /** Redacted: secrets and PII never leave in a response. */
  inputs: unknown;
  inputsDigest: string;
  outputsDigest: string | null;
  traceId: string | null;
  steps: StepView[];
  receipt: { digest: string; storedUri: string; verified: boolean; createdAt: Date } | null;
  /** The decisions that let this execution start. */
  policyDecisions: DecisionView[];
  approvals: ApprovalView[];
}

function summaryOf(row: repo.ExecutionRow, wf: { name: string; version: string }): ExecutionSummary {
  return {
    id: row.id,
    workflowId: row.workflowId,
    workflowName: wf.name,
    workflowVersion: wf.version,
    status: row.status,
    outcome: row.outcome,
    region: row.region,
    actorSub: row.actorSub,
    rollout: row.rollout,
    createdAt: row.createdAt,
    startedAt: row.startedAt,
    finishedAt: row.finishedAt,
    costUsd: row.costUsd,
    error: row.error,
    priority: row.priority,
    concurrencyKey: row.concurrencyKey,
    rerunOf: row.rerunOf,
    scheduleId: row.scheduleId,
    pausedAt: row.pausedAt,
  };
}

export interface StartResult {
  execution: ExecutionView;
  /** False when an earlier start with the same idempotency key is returned. */
  created: boolean;
}

export interface StartOptions {
  traceId?: string;
  traceparent?: string;
  /** A schedule's fire: recorded on the execution. */
  scheduleId?: string;
  /** A rerun: the failed execution whose succeeded steps this one reuses (see `rerunExecution`). */
  rerunOf?: repo.ExecutionRow;
}

export async function startExecution(deps: Deps, raw: unknown, actor: Actor, opts: StartOptions = {}): Promise<StartResult> {
  const parsed = startExecutionInputSchema.safeParse(raw);
  if (!parsed.success) throw validationError(parsed.error, 'execution request');
  const input = parsed.data;
  const nulAt = findNulPath(input.inputs, ['inputs']);
  if (nulAt !== null) throw new AppError('VALIDATION', `${nulAt}: text may not contain the NUL character (\\u0000)`, { issues: [{ path: nulAt, message: 'contains U+0000' }] });
  const inputBytes = Buffer.byteLength(JSON.stringify(input.inputs), 'utf8');
  if (inputBytes > deps.config.MC_MAX_INPUT_BYTES) {
    throw new AppError('PAYLOAD_TOO_LARGE', `inputs are ${inputBytes} bytes; the limit is ${deps.config.MC_MAX_INPUT_BYTES}`, { issues: [{ path: 'inputs', message: 'too large' }] });
  }
  if (input.idempotencyKey) {
    const existing = await repo.findExecutionByIdempotencyKey(deps.db, actor.tenantId, input.idempotencyKey);
    if (existing) return { execution: await sameRequestOrConflict(deps, existing, input, actor), created: false };
  }
  // The tenant's active count does not depend on the target: read while the release is resolved
  // (one round trip where there were two); a refusal below still comes in the same order.
  const activeRead = repo.countActiveExecutions(deps.db, actor.tenantId);
  activeRead.catch(() => undefined);
  // By name, the workflow's release picks the version; `rollout: 'canary'` enters the version as its canary (server/releases/).
  const target = await resolveStartTarget(deps, input, actor);
  const wf = await findPublishedWorkflowCached(deps.db, target.workflowId, { tenantId: actor.tenantId });
  if (!wf) throw new AppError('NOT_FOUND', `workflow ${target.workflowId} not found`);
  if (wf.status !== 'published') {
    throw new AppError('CONFLICT', `workflow ${wf.name}@${wf.version} is a draft; publish it before executing`, { details: { workflowId: wf.id, status: wf.status } });
  }
  const manifest = wf.manifest as Manifest;
  const region = input.region ?? wf.region;
  // Checked before the insert, so two starts racing at the limit may both pass: a quota, not a lock.
  const active = await activeRead;
  if (active >= deps.config.MC_QUOTA_CONCURRENT_EXECUTIONS) {
    throw new AppError('RATE_LIMITED', `quota: this tenant has ${active} executions in flight; the limit is ${deps.config.MC_QUOTA_CONCURRENT_EXECUTIONS}`, { retryAfterSeconds: 5 });
  }
  await assertQueueHasRoom(deps);
  for (const runnerClass of new Set(manifest.tasks.map((t) => t.runnerClass))) {
    const limit = deps.config.MC_QUOTA_RUNNER_CLASS_CONCURRENCY[runnerClass];
    if (limit === undefined) continue;
    const inClass = await repo.countActiveExecutionsInRunnerClass(deps.db, actor.tenantId, runnerClass);
    if (inClass >= limit) {
      throw new AppError('RATE_LIMITED', `quota: this tenant has ${inClass} executions in flight on runner class "${runnerClass}"; the limit is ${limit}`, { retryAfterSeconds: 5 });
    }
  }
  // Always evaluated here, whatever a plan said: the server is where policy holds.
  const outcome = await evaluateExecute(deps, actor, { ...wf, manifest }, { region, inputs: input.inputs });
  if (!outcome.allowed) {
    await recordDeniedRouting(deps.db, target.routing);
    await refuse(deps, outcome);
  }
  const concurrencyKey = concurrencyKeyOf(manifest, input.inputs);
  const priority = input.priority ?? manifest.priority ?? 'normal';
  const plan = opts.rerunOf ? await loadPlan(deps, wf.id) : null;

  // A plain start takes no lock and only inserts: it shares its transaction with the starts that
  // come with it (group commit). A concurrency key's lock and a rerun's copy take one of their own.
  const shareable = !opts.rerunOf && !(concurrencyKey && manifest.concurrency);
  const inTransaction = <T>(body: (tx: Transaction) => Promise<T>) => (shareable ? groupCommitOf(deps.db).run(body) : deps.db.transaction(body));
  const inserted = await inTransaction(async (tx) => {
    // Over the concurrency limit: the run is recorded `queued` and admitted when a slot frees (admission.ts).
    let status: 'pending' | 'queued' = 'pending';
    if (concurrencyKey && manifest.concurrency) {
      await lockConcurrencyKey(tx, actor.tenantId, concurrencyKey);
      if (!(await hasFreeSlot(tx, actor.tenantId, concurrencyKey, manifest.concurrency.limit))) status = 'queued';
    }
    const row = await repo.insertExecution(tx, {
      tenantId: actor.tenantId,
      workflowId: wf.id,
      status,
      actorRole: actor.role,
      priority,
      concurrencyKey,
      concurrencyLimit: manifest.concurrency?.limit ?? null,
      rerunOf: opts.rerunOf?.id ?? null,
      idempotencyScope: opts.rerunOf ? idempotencyScopeOf(opts.rerunOf) : null,
      scheduleId: opts.scheduleId ?? null,
      region,
      actorSub: actor.sub,
      idempotencyKey: input.idempotencyKey ?? null,
      inputs: input.inputs,
      inputsDigest: digestOf(input.inputs),
      rollout: target.routing?.arm ?? input.rollout ?? null,
      traceId: opts.traceId ?? null,
      openSteps: manifest.tasks.length,
      costEstimateUsd: outcome.costEstimateUsd.toFixed(4),
    });
    // A concurrent start with the same idempotency key won the insert.
    if (!row) return null;
    await recordRouting(tx, target.routing, row.id);
    await repo.insertSteps(
      tx,
      manifest.tasks.map((t) => ({
        executionId: row.id,
        tenantId: actor.tenantId,
        taskId: t.id,
        uses: t.uses,
        runnerClass: t.runnerClass,
        status: t.needs.length === 0 ? ('queued' as const) : ('pending' as const),
        remainingNeeds: t.needs.length,
      })),
      // A rerun reads its steps back to copy the original's succeeded ones; a fresh start does not.
      { atCommit: !opts.rerunOf },
    );
    if (opts.rerunOf && plan) await prepareRerun(tx, row, opts.rerunOf, plan);
    if (status === 'queued') await recordTransition(tx, { type: 'mc.execution.queued', execution: row, to: 'queued', actorSub: actor.sub, data: { concurrencyKey } });
    if (opts.rerunOf) await recordTransition(tx, { type: 'mc.execution.rerun', execution: row, to: status, actorSub: actor.sub, data: { rerunOf: opts.rerunOf.id } });
    await recordDecisions(tx, outcome, row.id);
    await appendAuditEvents(tx, [
      {
        tenantId: actor.tenantId,
        type: 'mc.execution.started',
        actor: { sub: actor.sub, ...(actor.ip ? { ip: actor.ip } : {}) },
        subject: { workflowId: wf.id, executionId: row.id },
        data: { name: wf.name, version: wf.version, region, inputsDigest: row.inputsDigest, rollout: row.rollout, traceId: row.traceId },
      },
    ]);
    return row;
  });
  if (!inserted) {
    const existing = await repo.findExecutionByIdempotencyKey(deps.db, actor.tenantId, input.idempotencyKey!);
    return { execution: await sameRequestOrConflict(deps, existing!, input, actor), created: false };
  }
  const roots = manifest.tasks.filter((t) => t.needs.length === 0);
  try {
    // A queued run has nothing to enqueue until it is admitted (admission.ts).
    if (inserted.status === 'queued') return { execution: await getExecution(deps, inserted.id, actor), created: true };
    if (opts.rerunOf) {
      await enqueueRoots(deps, inserted, opts.traceparent);
    } else {
      await deps.queues.enqueueTasks(
        roots.map((t) => ({ executionId: inserted.id, tenantId: inserted.tenantId, taskId: t.id, runnerClass: t.runnerClass, retries: t.retries, priority: inserted.priority, workflowId: wf.id, uses: t.uses })),
        opts.traceparent,
      );
    }
  } catch (e) {
    // The execution is committed: the worker's sweeper enqueues its queued steps once Redis is back.
    deps.logger.warn({ err: e, 'exec.id': inserted.id }, 'enqueue failed; the sweeper will retry');
  }
  // A rerun's steps were copied from its original: read them back. A fresh start is answered from
  // what it just wrote (the execution as committed), saving six reads on the hottest path.
  if (opts.rerunOf) return { execution: await getExecution(deps, inserted.id, actor), created: true };
  return { execution: committedStartView(inserted, wf, manifest, outcome.decisions), created: true };
}

/** The view of an execution at the commit of its start: steps as inserted, no receipt, no approvals yet. */
function committedStartView(row: repo.ExecutionRow, wf: { name: string; version: string }, manifest: Manifest, decisions: readonly DecisionView[]): ExecutionView {
  return {
    ...summaryOf(row, wf),
    idempotencyKey: row.idempotencyKey,
    inputs: redact(row.inputs),
    inputsDigest: row.inputsDigest,
    outputsDigest: row.outputsDigest,
    traceId: row.traceId,
    steps: [...manifest.tasks]
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map((t) => ({
        taskId: t.id,
        uses: t.uses,
        runnerClass: t.runnerClass,
        status: t.needs.length === 0 ? ('queued' as const) : ('pending' as const),
        attempts: 0,
        startedAt: null,
        finishedAt: null,
        durationMs: null,
        outputDigest: null,
        error: null,
        wakeAt: null,
      })),
    receipt: null,
    policyDecisions: decisions.map(decisionView),
    approvals: [],
  };
}

function idempotencyScopeOf(original: repo.ExecutionRow): string {
  return original.idempotencyScope ?? original.idempotencyKey ?? original.id;
}

/**
 * A rerun starts where its original failed: the original's succeeded steps are copied in as
 * `succeeded` (same idempotency key, so their stored results feed templates downstream), and the
 * other steps count only their needs that did not succeed. The rerun shares the original's
 * idempotency scope, so a step that already acted under a key presents the same key again.
 */
async function prepareRerun(tx: Parameters<typeof repo.copySucceededSteps>[0], row: repo.ExecutionRow, original: repo.ExecutionRow, plan: WorkflowPlan): Promise<void> {
  const done = new Set(await repo.copySucceededSteps(tx, original.id, row.id));
  const needs = new Map<string, number>();
  for (const t of plan.manifest.tasks) if (!done.has(t.id)) needs.set(t.id, t.needs.filter((n) => !done.has(n)).length);
  await repo.setStepNeeds(tx, row.id, needs);
  await repo.setOpenSteps(tx, row.id, needs.size);
}

async function sameRequestOrConflict(deps: Deps, existing: repo.ExecutionRow, input: z.output<typeof startExecutionInputSchema>, actor: Actor): Promise<ExecutionView> {
  if (!(await sameStartTarget(deps.db, existing.workflowId, input)) || existing.inputsDigest !== digestOf(input.inputs)) {
    throw new AppError('CONFLICT', 'this idempotencyKey was already used for a different request (workflow or inputs differ); use a new key', {
      details: { executionId: existing.id },
    });
  }
  return getExecution(deps, existing.id, actor);
}

export async function getExecution(deps: Deps, id: string, actor: Pick<Actor, 'tenantId'>): Promise<ExecutionView> {
  const row = await repo.findExecution(deps.db, id, actor.tenantId);
  if (!row) throw new AppError('NOT_FOUND', `execution ${id} not found`);
  const [wf, steps, receipt, decisions, approvals] = await Promise.all([
    findWorkflow(deps.db, row.workflowId),
    repo.findSteps(deps.db, id),
    repo.findReceiptSummary(deps.db, id),
    findDecisionsForExecution(deps.db, id),
    repo.findApprovals(deps.db, id),
  ]);
  return {
    ...summaryOf(row, wf ?? { name: '?', version: '?' }),
    idempotencyKey: row.idempotencyKey,
    inputs: redact(row.inputs),
    inputsDigest: row.inputsDigest,
    outputsDigest: row.outputsDigest,
    traceId: row.traceId,
    steps: steps.map((s) => ({
      taskId: s.taskId,
      uses: s.uses,
      runnerClass: s.runnerClass,
      status: s.status,
      attempts: s.attempts,
      startedAt: s.startedAt,
      finishedAt: s.finishedAt,
      durationMs: s.durationMs,
      outputDigest: s.outputDigest,
      error: s.error,
      wakeAt: s.wakeAt,
    })),
    receipt,
    policyDecisions: decisions.map(decisionView),
    approvals: approvals.map((a) => ({ taskId: a.taskId, actorSub: a.actorSub, actorRole: a.actorRole, decision: a.decision, comment: a.comment, at: a.createdAt })),
  };
}

export async function listExecutions(deps: Deps, input: z.output<typeof executionListInputSchema>, actor: Pick<Actor, 'tenantId'>): Promise<Page<ExecutionSummary>> {
  const rows = await repo.listExecutions(deps.db, { tenantId: actor.tenantId, limit: input.limit, after: decodeCursor(input.cursor), workflowId: input.workflowId, status: input.status });
  const flat = rows.map((r) => ({ ...r.execution, wf: { name: r.workflowName, version: r.workflowVersion } }));
  return toPage(flat, input.limit, (r) => summaryOf(r, r.wf));
}

export interface LogLine {
  id: number;
  ts: string;
  level: string;
  taskId: string | null;
  attempt: number | null;
  message: string;
  data: unknown;
}

/** Step logs (already redacted when written), oldest first. */
export async function executionLogs(deps: Deps, id: string, actor: Pick<Actor, 'tenantId'>, opts: { after?: number; limit?: number } = {}): Promise<LogLine[]> {
  const exists = await repo.findExecution(deps.db, id, actor.tenantId);
  if (!exists) throw new AppError('NOT_FOUND', `execution ${id} not found`);
  const rows = await repo.findLogs(deps.db, id, opts.after ?? 0, Math.min(opts.limit ?? 1000, 10_000));
  return rows.map((r) => ({ id: r.id, ts: r.ts.toISOString(), level: r.level, taskId: r.taskId, attempt: r.attempt, message: r.message, data: r.data }));
}
