import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import type { Deps } from '@mc/server/deps';
import { taskJobSchema } from '@mc/server/queue/task-queues';
import {
  appendStepLog,
  applyTransition,
  beginStep,
  completeStep,
  failStep,
  PermanentStepError,
  recordRetryableFailure,
  settleStoppedStep,
  suspendStep,
  type StepContext,
  type Transition,
} from '@mc/server/executions/step-service';
import { findApprovals, findExecution, findSignal, type ExecutionRow, type StepRow } from '@mc/server/executions/repository';
import { ReceiptGroup } from '@mc/server/receipts/receipt-group';
import { issueReceipts } from '@mc/server/receipts/receipt-issuer';
import { isKnownPackage } from '@mc/shared/task-packages';
import { createSecretMasker } from './secrets/secret-masking.ts';
import { resolveSecrets, type SecretProvider } from './secrets/secret-provider.ts';
import { RunningTasks } from './running-tasks.ts';
import { WakeTimers } from './wake-timers.ts';
import { BackgroundReceipts } from './background-receipts.ts';
import { taskImplementations } from './tasks/registry.ts';
import { NonRetryableTaskError, SuspendTask, type DurableControl, type TaskRunContext } from './tasks/task-context.ts';

class TaskTimeoutError extends Error {}

/** An infrastructure hiccup (database or Redis) is not the task's failure: try the job again later without spending a retry. */
const infraRetryDelayMs = 1_000;

/**
 * `secrets`: the worker's provider (`createSecretProvider` from config); without one every `${{ secrets.X }}` is unset.
 * `running`: the registry a cancel reaches running tasks through (the worker runtime feeds it from pub/sub and polling).
 * `wakes`: the timers that promote this processor's suspended jobs when due (the runtime clears them on close).
 * `receiptsInFlight`: the receipts of finished runs being issued after their jobs returned (the runtime waits for them on close).
 */
export function createTaskProcessor(deps: Deps, opts: { secrets?: SecretProvider; running?: RunningTasks; wakes?: WakeTimers; receiptsInFlight?: BackgroundReceipts } = {}) {
  const { secrets } = opts;
  const running = opts.running ?? new RunningTasks(deps.config.MC_CANCEL_GRACE_MS);
  const wakes = opts.wakes ?? new WakeTimers();
  const receiptsInFlight = opts.receiptsInFlight ?? new BackgroundReceipts(deps.config.WORKER_CONCURRENCY);
  const resolve = secrets ? (names: string[]) => resolveSecrets(secrets, names) : undefined;
  // The receipts of runs this processor's tasks finish, issued in groups (see ReceiptGroup).
  const receipts = new ReceiptGroup((requests) => issueReceipts(deps, requests));
  return async function processTask(job: Job, token?: string): Promise<unknown> {
    const parsed = taskJobSchema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`malformed task job ${job.id}: ${parsed.error.message}`);
    const { executionId, taskId, traceparent } = parsed.data;

    let ctx: StepContext | null;
    try {
      ctx = await beginStep(deps, executionId, taskId, resolve ? { resolveSecrets: resolve } : {});
    } catch (e) {
      if (e instanceof PermanentStepError) {
        const execution = await findExecution(deps.db, executionId);
        if (execution) await appendStepLog(deps, { tenantId: execution.tenantId, executionId, taskId, attempt: 0, level: 'error', message: e.message });
        await applyTransition(deps, await failStep(deps, executionId, taskId, e.message), traceparent);
        throw new UnrecoverableError(e.message);
      }
      return await delayForInfra(job, token, e);
    }
    if (!ctx) return { skipped: 'step is not runnable (finished, or a duplicate delivery)' };

    let output: unknown;
    const fromStore = ctx.storedResult !== null;
    // Secret values never reach storage: the output (and so its digest in the receipt) is masked before completeStep.
    const mask = createSecretMasker(ctx.secretValues);
    try {
      output = fromStore ? ctx.storedResult!.output : mask.value(await runTask(deps, ctx));
    } catch (e) {
      if (e instanceof SuspendTask) return await suspend(job, token, ctx, e);
      if (running.isStopped(executionId)) return await settleStopped(executionId, taskId, e);
      return await handleTaskFailure(deps, job, ctx, e, traceparent);
    }
    try {
      if (fromStore) await appendStepLog(deps, { tenantId: ctx.execution.tenantId, executionId, taskId, attempt: ctx.step.attempts, level: 'info', message: 'stored result reused (idempotency key already has a result)' });
      await finishTransition(executionId, taskId, await completeStep(deps, ctx, output, { fromStore }), traceparent);
    } catch (e) {
      // The result is stored under its idempotency key, so the retry completes without acting again.
      return await delayForInfra(job, token, e);
    }
    return { ok: true };
  };

  async function runTask(deps: Deps, ctx: StepContext): Promise<unknown> {
    const mask = createSecretMasker(ctx.secretValues);
    if (!isKnownPackage(ctx.task.uses)) throw new NonRetryableTaskError(`unknown package ${ctx.task.uses}`);
    const implementation = taskImplementations[ctx.task.uses];
    const controller = new AbortController();
    const timeoutMs = ctx.task.timeoutMs;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const err = new TaskTimeoutError(`timed out after ${timeoutMs} ms`);
        controller.abort(err);
        reject(err);
      }, timeoutMs);
    });
    const registration = running.register(ctx.execution.id, controller);
    const runCtx: TaskRunContext = {
      durable: durableControl(ctx),
      executionId: ctx.execution.id,
      taskId: ctx.task.id,
      attempt: ctx.step.attempts,
      idempotencyKey: ctx.idempotencyKey,
      input: ctx.input,
      signal: controller.signal,
      config: deps.config,
      log: (level, message, data) =>
        appendStepLog(deps, {
          tenantId: ctx.execution.tenantId,
          executionId: ctx.execution.id,
          taskId: ctx.task.id,
          attempt: ctx.step.attempts,
          level,
          message: mask.text(message),
          data: data === undefined ? undefined : mask.value(data),
        }),
    };
    try {
      // Raced against the timer so a task that ignores its abort signal still times out, and
      // against abandonment so one that ignores a cancel is let go after the grace period.
      return await Promise.race([implementation(runCtx as TaskRunContext<never>), timedOut, registration.abandoned]);
    } finally {
      clearTimeout(timer);
      registration.release();
    }
  }

  function durableControl(ctx: StepContext): DurableControl {
    return {
      startedAt: ctx.step.startedAt ?? new Date(),
      taskTimeoutMs: ctx.task.timeoutMs,
      suspendUntil(until, recheck) {
        throw new SuspendTask(until, recheck);
      },
      async findSignal(event, key) {
        const row = await findSignal(deps.db, ctx.execution.id, event, key);
        return row ? { payload: row.payload, sentAt: row.createdAt, actorSub: row.actorSub } : null;
      },
      async approvals() {
        const rows = await findApprovals(deps.db, ctx.execution.id, ctx.task.id);
        const rejected = rows.find((r) => r.decision === 'reject');
        return {
          approvedBy: rows.filter((r) => r.decision === 'approve').map((r) => ({ sub: r.actorSub, role: r.actorRole, at: r.createdAt })),
          rejectedBy: rejected ? { sub: rejected.actorSub, comment: rejected.comment } : null,
        };
      },
    };
  }

  /**
   * The durable wait: the step is recorded `waiting` and the job goes to BullMQ's delayed set until
   * `until` (no worker slot held). A wake-up that came in between is not lost: the server promotes
   * a delayed job, and `recheck` covers the moment before the job was delayed.
   */
  async function suspend(job: Job, token: string | undefined, ctx: StepContext, e: SuspendTask): Promise<unknown> {
    if (!token) throw new Error(`task job ${job.id} cannot wait without its lock token`);
    if (!(await suspendStep(deps, ctx, e.until))) return { skipped: 'step is no longer running' };
    await job.moveToDelayed(e.until.getTime(), token);
    if (e.recheck && (await e.recheck().catch(() => false))) await job.promote().catch(() => undefined);
    else wakes.schedule(e.until.getTime(), () => job.promote());
    throw new DelayedError();
  }

  /** Applies a transition; a task that ended after its execution was cancelled or rejected is recorded `cancelled` instead. */
  async function finishTransition(executionId: string, taskId: string, t: Transition, traceparent?: string): Promise<void> {
    if (t.stopped) {
      await settleStopped(executionId, taskId, null);
      return;
    }
    await applyTransition(deps, t, traceparent, { issueReceipt: issueReceiptHere });
  }

  /**
   * The receipt of a run this worker just finished, cut here after the job returns
   * (BackgroundReceipts); when it is not stored, the receipt job takes over, with its retries.
   */
  async function issueReceiptHere(finished: ExecutionRow, steps?: StepRow[]): Promise<boolean> {
    const executionId = finished.id;
    await receiptsInFlight.run(async () => {
      try {
        const outcome = await receipts.issue({ executionId, finished, ...(steps ? { steps } : {}) });
        if (outcome === 'issued' || outcome === 'exists') return;
      } catch (err) {
        deps.logger.warn({ err, 'exec.id': executionId }, 'receipt not stored on finish; the receipt job will retry it');
      }
      // Redis refusing this too leaves the run `receipt_pending`: the sweeper enqueues its receipt.
      await deps.queues.enqueueReceipt(executionId).catch((err: unknown) => deps.logger.warn({ err, 'exec.id': executionId }, 'receipt job not enqueued; the sweeper will'));
    });
    return true;
  }

  async function settleStopped(executionId: string, taskId: string, e: unknown): Promise<unknown> {
    const reason = e instanceof Error ? `stopped: ${e.message}` : 'stopped: its execution was cancelled or rejected';
    if (await settleStoppedStep(deps, executionId, taskId, reason)) {
      await deps.queues.enqueueReceipt(executionId);
      await deps.queues.promoteReceipt(executionId);
    }
    return { stopped: true };
  }

  async function handleTaskFailure(deps: Deps, job: Job, ctx: StepContext, e: unknown, traceparent?: string): Promise<never> {
    // The message goes to the step row, the step log and BullMQ's failedReason in Redis: masked for all three.
    const message = createSecretMasker(ctx.secretValues).text(e instanceof Error ? e.message : String(e));
    const final = e instanceof NonRetryableTaskError || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    await appendStepLog(deps, {
      tenantId: ctx.execution.tenantId,
      executionId: ctx.execution.id,
      taskId: ctx.task.id,
      attempt: ctx.step.attempts,
      level: 'error',
      message: final ? `failed: ${message}` : `attempt failed, will retry: ${message}`,
    });
    if (final) {
      const t = await failStep(deps, ctx.execution.id, ctx.task.id, message);
      await finishTransition(ctx.execution.id, ctx.task.id, t, traceparent);
      throw new UnrecoverableError(message);
    }
    const stopped = await recordRetryableFailure(deps, ctx, message);
    if (stopped) {
      await settleStopped(ctx.execution.id, ctx.task.id, e);
      throw new UnrecoverableError(message);
    }
    throw ctx.secretValues.length === 0 && e instanceof Error ? e : new Error(message);
  }

  async function delayForInfra(job: Job, token: string | undefined, e: unknown): Promise<never> {
    deps.logger.warn({ err: e, jobId: job.id }, 'task job hit an infrastructure error; retrying without spending an attempt');
    if (!token) throw e;
    await job.moveToDelayed(Date.now() + infraRetryDelayMs, token);
    throw new DelayedError();
  }
}
