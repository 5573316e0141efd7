import type { Deps } from '@mc/server/deps';
import { findExecutionsMissingReceipts, findStrandedSteps } from '@mc/server/executions/repository';
import { loadPlan } from '@mc/server/executions/step-service';
import { findExecution } from '@mc/server/executions/repository';
import { taskJobId } from '@mc/server/queue/task-queues';

const batch = 500;

/**
 * The safety net under "nothing is lost": re-enqueues steps whose job was lost (a crash between
 * commit and enqueue, a Redis that lost its data, a job that exhausted its stalls) and receipts
 * never issued. Job ids are deterministic, so re-adding a job that still exists changes nothing.
 * One worker sweeps at a time (a Redis lock per interval).
 */
export async function sweepOnce(deps: Deps): Promise<{ requeuedSteps: number; requeuedReceipts: number }> {
  const interval = deps.config.MC_SWEEP_INTERVAL_MS;
  const lock = await deps.redis.set(`${deps.config.MC_QUEUE_PREFIX}:sweeper-lock`, String(process.pid), 'PX', interval, 'NX');
  if (lock !== 'OK') return { requeuedSteps: 0, requeuedReceipts: 0 };

  let requeuedSteps = 0;
  const stranded = await findStrandedSteps(deps.db, Math.max(2 * interval, 1_000), batch);
  for (const s of stranded) {
    const queue = deps.queues.queueFor(s.runnerClass);
    const job = await queue.getJob(taskJobId(s.executionId, s.taskId));
    if (job) {
      const state = await job.getState();
      if (state === 'active' || state === 'waiting' || state === 'delayed' || state === 'prioritized' || state === 'waiting-children') continue;
      // Completed or failed while Postgres says the step still needs running: the job is stale.
      await job.remove();
    }
    const execution = await findExecution(deps.db, s.executionId);
    if (!execution) continue;
    const plan = await loadPlan(deps, execution.workflowId);
    await deps.queues.enqueueTasks([{ executionId: s.executionId, taskId: s.taskId, runnerClass: s.runnerClass, retries: plan.tasks.get(s.taskId)?.retries ?? 0 }]);
    requeuedSteps++;
  }

  const missing = await findExecutionsMissingReceipts(deps.db, Math.max(2 * interval, 1_000), batch);
  for (const id of missing) await deps.queues.enqueueReceipt(id);
  if (requeuedSteps + missing.length > 0) deps.logger.info({ requeuedSteps, requeuedReceipts: missing.length }, 'sweeper re-enqueued lost work');
  return { requeuedSteps, requeuedReceipts: missing.length };
}
