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
  type StepContext,
} from '@mc/server/executions/step-service';
import { findExecution } from '@mc/server/executions/repository';
import { isKnownPackage } from '@mc/shared/task-packages';
import { createSecretMasker } from './secrets/secret-masking.ts';
import { resolveSecrets, type SecretProvider } from './secrets/secret-provider.ts';
import { taskImplementations } from './tasks/registry.ts';
import { NonRetryableTaskError, type TaskRunContext } from './tasks/task-context.ts';

class TaskTimeoutError extends Error {}

/** An infrastructure hiccup (database or Redis) is not the task's failure: try the job again later without spending a retry. */
const infraRetryDelayMs = 1_000;

/** `secrets`: the worker's provider (`createSecretProvider` from config); without one every `${{ secrets.X }}` is unset. */
export function createTaskProcessor(deps: Deps, opts: { secrets?: SecretProvider } = {}) {
  const { secrets } = opts;
  const resolve = secrets ? (names: string[]) => resolveSecrets(secrets, names) : undefined;
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
      return await handleTaskFailure(deps, job, ctx, e, traceparent);
    }
    try {
      if (fromStore) await appendStepLog(deps, { tenantId: ctx.execution.tenantId, executionId, taskId, attempt: ctx.step.attempts, level: 'info', message: 'stored result reused (idempotency key already has a result)' });
      await applyTransition(deps, await completeStep(deps, ctx, output, { fromStore }), traceparent);
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
    const runCtx: TaskRunContext = {
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
      // Raced against the timer so a task that ignores its abort signal still times out.
      return await Promise.race([implementation(runCtx as TaskRunContext<never>), timedOut]);
    } finally {
      clearTimeout(timer);
    }
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
      await applyTransition(deps, await failStep(deps, ctx.execution.id, ctx.task.id, message), traceparent);
      throw new UnrecoverableError(message);
    }
    await recordRetryableFailure(deps, ctx, message);
    throw ctx.secretValues.length === 0 && e instanceof Error ? e : new Error(message);
  }

  async function delayForInfra(job: Job, token: string | undefined, e: unknown): Promise<never> {
    deps.logger.warn({ err: e, jobId: job.id }, 'task job hit an infrastructure error; retrying without spending an attempt');
    if (!token) throw e;
    await job.moveToDelayed(Date.now() + infraRetryDelayMs, token);
    throw new DelayedError();
  }
}
