import type { Actor } from '@mc/shared/actor';
import { startExecutionInputSchema, executionListInputSchema } from '@mc/shared/api';
import { digestOf } from '@mc/shared/canonical-json';
import { AppError, validationError } from '@mc/shared/errors';
import type { Manifest } from '@mc/shared/manifest';
import { redact } from '@mc/shared/redaction';
import type { z } from 'zod';
import { appendAuditEvents } from '../audit/audit-writer.ts';
import type { Deps } from '../deps.ts';
import { decodeCursor, toPage, type Page } from '../http/cursor.ts';
import { findWorkflow } from '../workflows/repository.ts';
import { findDecisionsForExecution } from '../policy/decision-repository.ts';
import { decisionView, type DecisionView, evaluateExecute, recordDecisions, refuse } from '../policy/policy-service.ts';
import * as repo from './repository.ts';

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
}

export interface ExecutionSummary {
  id: string;
  workflowId: string;
  workflowName: string;
  workflowVersion: string;
  status: repo.ExecutionRow['status'];
  region: string;
  actorSub: string;
  rollout: string | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  costUsd: string;
  error: string | null;
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
}

function summaryOf(row: repo.ExecutionRow, wf: { name: string; version: string }): ExecutionSummary {
  return {
    id: row.id,
    workflowId: row.workflowId,
    workflowName: wf.name,
    workflowVersion: wf.version,
    status: row.status,
    region: row.region,
    actorSub: row.actorSub,
    rollout: row.rollout,
    createdAt: row.createdAt,
    startedAt: row.startedAt,
    finishedAt: row.finishedAt,
    costUsd: row.costUsd,
    error: row.error,
  };
}

export interface StartResult {
  execution: ExecutionView;
  /** False when an earlier start with the same idempotency key is returned. */
  created: boolean;
}

export async function startExecution(deps: Deps, raw: unknown, actor: Actor, opts: { traceId?: string; traceparent?: string } = {}): Promise<StartResult> {
  const parsed = startExecutionInputSchema.safeParse(raw);
  if (!parsed.success) throw validationError(parsed.error, 'execution request');
  const input = parsed.data;
  const inputBytes = Buffer.byteLength(JSON.stringify(input.inputs), 'utf8');
  if (inputBytes > deps.config.MC_MAX_INPUT_BYTES) {
    throw new AppError('PAYLOAD_TOO_LARGE', `inputs are ${inputBytes} bytes; the limit is ${deps.config.MC_MAX_INPUT_BYTES}`, { issues: [{ path: 'inputs', message: 'too large' }] });
  }
  if (input.idempotencyKey) {
    const existing = await repo.findExecutionByIdempotencyKey(deps.db, actor.tenantId, input.idempotencyKey);
    if (existing) return { execution: await sameRequestOrConflict(deps, existing, input, actor), created: false };
  }
  const wf = await findWorkflow(deps.db, input.workflowId, { tenantId: actor.tenantId });
  if (!wf) throw new AppError('NOT_FOUND', `workflow ${input.workflowId} not found`);
  if (wf.status !== 'published') {
    throw new AppError('CONFLICT', `workflow ${wf.name}@${wf.version} is a draft; publish it before executing`, { details: { workflowId: wf.id, status: wf.status } });
  }
  const manifest = wf.manifest as Manifest;
  const region = input.region ?? wf.region;
  // Checked before the insert, so two starts racing at the limit may both pass: a quota, not a lock.
  const active = await repo.countActiveExecutions(deps.db, actor.tenantId);
  if (active >= deps.config.MC_QUOTA_CONCURRENT_EXECUTIONS) {
    throw new AppError('RATE_LIMITED', `quota: this tenant has ${active} executions in flight; the limit is ${deps.config.MC_QUOTA_CONCURRENT_EXECUTIONS}`, { retryAfterSeconds: 5 });
  }
  // Always evaluated here, whatever a plan said: the server is where policy holds.
  const outcome = await evaluateExecute(deps, actor, { ...wf, manifest }, { region, inputs: input.inputs });
  if (!outcome.allowed) await refuse(deps, outcome);

  const inserted = await deps.db.transaction(async (tx) => {
    const row = await repo.insertExecution(tx, {
      tenantId: actor.tenantId,
      workflowId: wf.id,
      status: 'pending',
      region,
      actorSub: actor.sub,
      idempotencyKey: input.idempotencyKey ?? null,
      inputs: input.inputs,
      inputsDigest: digestOf(input.inputs),
      rollout: input.rollout ?? null,
      traceId: opts.traceId ?? null,
      openSteps: manifest.tasks.length,
      costEstimateUsd: outcome.costEstimateUsd.toFixed(4),
    });
    // A concurrent start with the same idempotency key won the insert.
    if (!row) return null;
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
    );
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
    await deps.queues.enqueueTasks(
      roots.map((t) => ({ executionId: inserted.id, taskId: t.id, runnerClass: t.runnerClass, retries: t.retries })),
      opts.traceparent,
    );
  } catch (e) {
    // The execution is committed: the worker's sweeper enqueues its queued steps once Redis is back.
    deps.logger.warn({ err: e, 'exec.id': inserted.id }, 'enqueue failed; the sweeper will retry');
  }
  return { execution: await getExecution(deps, inserted.id, actor), created: true };
}

async function sameRequestOrConflict(deps: Deps, existing: repo.ExecutionRow, input: z.output<typeof startExecutionInputSchema>, actor: Actor): Promise<ExecutionView> {
  if (existing.workflowId !== input.workflowId || existing.inputsDigest !== digestOf(input.inputs)) {
    throw new AppError('CONFLICT', 'this idempotencyKey was already used for a different request (workflow or inputs differ); use a new key', {
      details: { executionId: existing.id },
    });
  }
  return getExecution(deps, existing.id, actor);
}

export async function getExecution(deps: Deps, id: string, actor: Pick<Actor, 'tenantId'>): Promise<ExecutionView> {
  const row = await repo.findExecution(deps.db, id, actor.tenantId);
  if (!row) throw new AppError('NOT_FOUND', `execution ${id} not found`);
  const [wf, steps, receipt, decisions] = await Promise.all([
    findWorkflow(deps.db, row.workflowId),
    repo.findSteps(deps.db, id),
    repo.findReceiptSummary(deps.db, id),
    findDecisionsForExecution(deps.db, id),
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
    })),
    receipt,
    policyDecisions: decisions.map(decisionView),
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
