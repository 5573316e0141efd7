import { Worker, UnrecoverableError, type Job, type WorkerOptions } from 'bullmq';
import type { Deps } from '@mc/server/deps';
import { subscribeControl } from '@mc/server/executions/control-channel';
import { stoppedAs } from '@mc/server/executions/execution-outcome';
import { findStatuses } from '@mc/server/executions/repository';
import { createRedisConnection } from '@mc/server/queue/redis-connection';
import { scheduleJobSchema, scheduleQueueName, scheduleRepeatStrategy } from '@mc/server/queue/task-queues';
import { fireSchedule } from '@mc/server/schedules/service';
import type { RunningTasks } from './running-tasks.ts';

/**
 * The worker's side of execution control, beside the task runner:
 * - cancel/reject reach running tasks by Redis pub/sub, backed by a poll of the statuses of the
 *   executions this process runs tasks for (a message lost during a reconnect still lands);
 * - the fair dispatcher is ticked, so staged tasks move into the runner queues as room frees;
 * - schedule fires (BullMQ job schedulers) become executions.
 */
export function startEngineControl(deps: Deps, running: RunningTasks, common: Pick<WorkerOptions, 'connection' | 'prefix'>): { scheduleWorker: Worker; close(): Promise<void> } {
  const { config } = deps;
  const subscriber = createRedisConnection(config.REDIS_URL, 'worker');
  subscriber.on('error', (err) => deps.logger.debug({ err }, 'redis control subscriber error'));
  void subscribeControl(subscriber, config.MC_QUEUE_PREFIX, (m) => {
    const n = running.stop(m.executionId, m.status);
    if (n > 0) deps.logger.info({ 'exec.id': m.executionId, tasks: n, status: m.status }, 'stopping tasks of a stopped execution');
  }).catch((err: unknown) => deps.logger.warn({ err }, 'control channel subscription failed; relying on status polling'));

  const poll = setInterval(() => {
    const ids = running.executionIds();
    if (ids.length === 0) return;
    void findStatuses(deps.db, ids)
      .then((rows) => {
        for (const r of rows) {
          // A cancelled run is `receipt_pending` (outcome cancelled) until its receipt is stored.
          const stopped = stoppedAs(r);
          if (stopped) running.stop(r.id, stopped);
        }
      })
      .catch((err: unknown) => deps.logger.debug({ err }, 'status poll failed'));
  }, config.MC_CONTROL_POLL_MS);

  // Completions free room too (the runtime dispatches on them); the tick covers the rest (delayed jobs, other processes).
  const dispatchTick = setInterval(() => {
    for (const rc of config.WORKER_RUNNER_CLASSES) void deps.queues.dispatch(rc).catch((err: unknown) => deps.logger.debug({ err }, 'dispatch failed'));
  }, 100);

  const scheduleWorker = new Worker(
    scheduleQueueName,
    async (job: Job) => {
      const parsed = scheduleJobSchema.safeParse(job.data);
      if (!parsed.success) throw new UnrecoverableError(`malformed schedule job ${job.id}`);
      // The time this fire was due: BullMQ records it as the job's prevMillis (else its timestamp plus delay).
      const opts = job.opts as typeof job.opts & { prevMillis?: number };
      const fireAt = opts.prevMillis ?? job.timestamp + (job.opts.delay ?? 0);
      return fireSchedule(deps, parsed.data.scheduleId, fireAt);
    },
    { ...common, concurrency: 4, settings: { repeatStrategy: scheduleRepeatStrategy } },
  );

  return {
    scheduleWorker,
    async close() {
      clearInterval(poll);
      clearInterval(dispatchTick);
      subscriber.disconnect();
    },
  };
}
