import type { Deps } from '@mc/server/deps';
import { admitQueued } from '@mc/server/executions/admission';
import { countRequeue, findExecutionsMissingReceipts, findQueuedKeys, findStrandedSteps, findStuckExecutions, finishExecution, lockExecution } from '@mc/server/executions/repository';
import { applyTransition, failStep, loadPlan, readyTask } from '@mc/server/executions/step-service';
import { findExecution } from '@mc/server/executions/repository';
import { recordTransition } from '@mc/server/executions/transitions';
import { taskJobId } from '@mc/server/queue/task-queues';
import { syncSchedulers } from '@mc/server/schedules/service';

const batch = 500;

/**
 * The safety net under "nothing is lost", and the reaper under "nothing stays running with no
 * worker holding it":
 * - steps whose job was lost (a crash between commit and enqueue, a Redis that lost its data, a
 *   job that exhausted its stalls) go back on the queue — a waiting step's job delayed until its
 *   wake-up time — at most MC_REAPER_MAX_REQUEUES times; then the step fails with the reason;
 * - receipts not stored yet (`receipt_pending` executions; a receipt job removed after its last
 *   attempt, e.g. during an object-store outage) are enqueued again, every sweep until stored;
 * - queued executions whose admission was lost are admitted when their concurrency key has room;
 * - pending or running executions whose steps are all finished are finished;
 * - every active schedule has its BullMQ job scheduler.
 * Job ids are deterministic, so re-adding a job that still exists changes nothing. Staged tasks
 * (waiting their tenant's turn in the fair dispatcher) are not lost. One worker sweeps at a time.
 */
export async function sweepOnce(deps: Deps): Promise<{ requeuedSteps: number; requeuedReceipts: number; orphanedSteps: number; finishedExecutions: number }> {
  const interval = deps.config.MC_SWEEP_INTERVAL_MS;
  const lock = await deps.redis.set(`${deps.config.MC_QUEUE_PREFIX}:sweeper-lock`, String(process.pid), 'PX', interval, 'NX');
  if (lock !== 'OK') return { requeuedSteps: 0, requeuedReceipts: 0, orphanedSteps: 0, finishedExecutions: 0 };
  const olderThanMs = Math.max(2 * interval, 1_000);

  let requeuedSteps = 0;
  let orphanedSteps = 0;
  const stranded = await findStrandedSteps(deps.db, olderThanMs, batch);
  for (const s of stranded) {
    const queue = deps.queues.queueFor(s.runnerClass);
    const jobId = taskJobId(s.executionId, s.taskId);
    const job = await queue.getJob(jobId);
    if (job) {
      const state = await job.getState();
      if (state === 'active' || state === 'waiting' || state === 'delayed' || state === 'prioritized' || state === 'waiting-children') continue;
      // Completed or failed while Postgres says the step still needs running: the job is stale.
      await job.remove();
    } else if (s.status === 'queued' && (await deps.queues.fair.isStaged(s.runnerClass, s.tenantId, jobId))) {
      continue;
    }
    const execution = await findExecution(deps.db, s.executionId);
    if (!execution) continue;
    if (s.requeues >= deps.config.MC_REAPER_MAX_REQUEUES) {
      const reason = `orphaned: no worker held this step after ${s.requeues} re-queues (MC_REAPER_MAX_REQUEUES)`;
      await deps.db.transaction((tx) => recordTransition(tx, { type: 'mc.execution.step.orphaned', execution, actorSub: 'mc:sweeper', data: { taskId: s.taskId, requeues: s.requeues } }));
      await applyTransition(deps, await failStep(deps, s.executionId, s.taskId, reason));
      orphanedSteps++;
      continue;
    }
    const plan = await loadPlan(deps, execution.workflowId);
    await countRequeue(deps.db, s.executionId, s.taskId);
    await deps.queues.requeueTask(readyTask(execution, plan, s), { wakeAt: s.status === 'waiting' ? s.wakeAt : null });
    requeuedSteps++;
  }

  const missing = await findExecutionsMissingReceipts(deps.db, olderThanMs, batch);
  for (const id of missing) await deps.queues.enqueueReceipt(id);

  for (const k of await findQueuedKeys(deps.db, batch)) await admitQueued(deps, k.tenantId, k.concurrencyKey);

  let finishedExecutions = 0;
  for (const id of await findStuckExecutions(deps.db, olderThanMs, batch)) {
    const finished = await deps.db.transaction(async (tx) => {
      const locked = await lockExecution(tx, id);
      if (!locked || (locked.status !== 'pending' && locked.status !== 'running')) return null;
      const row = await finishExecution(tx, id);
      await recordTransition(tx, { type: 'mc.execution.finished', execution: row, from: locked.status, to: row.status, actorSub: 'mc:sweeper', data: { outcome: row.outcome, reason: 'every step had finished' } });
      return row;
    });
    if (finished) {
      await applyTransition(deps, { ready: [], finished });
      finishedExecutions++;
    }
  }

  await syncSchedulers(deps).catch((err: unknown) => deps.logger.warn({ err }, 'schedule sync failed; will try again next sweep'));

  if (requeuedSteps + missing.length + orphanedSteps + finishedExecutions > 0) {
    deps.logger.info({ requeuedSteps, requeuedReceipts: missing.length, orphanedSteps, finishedExecutions }, 'sweeper re-enqueued lost work');
  }
  return { requeuedSteps, requeuedReceipts: missing.length, orphanedSteps, finishedExecutions };
}
