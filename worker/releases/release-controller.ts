import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { Deps } from '@mc/server/deps';
import { runReleaseTick } from '@mc/server/releases/release-tick';

export const releaseQueueName = 'mc-releases';
const schedulerId = 'release-controller';
/** The job carries nothing: every tick reads the whole state from Postgres. */
export const releaseTickJobSchema = z.strictObject({});

export interface ReleaseController {
  worker: Worker | null;
  close(): Promise<void>;
}

/**
 * The canary controller, error-budget and Sev1 jobs as one BullMQ job scheduler (repeatable,
 * every MC_RELEASE_CONTROLLER_INTERVAL_MS; 0 turns it off). Upserting the scheduler from every
 * worker is idempotent, and BullMQ hands each tick to one worker; were two ever to run at once,
 * the guarded transitions still let only one of them move a release.
 */
export function startReleaseController(deps: Deps, connection: Redis, clock: () => Date = () => new Date()): ReleaseController {
  const every = deps.config.MC_RELEASE_CONTROLLER_INTERVAL_MS;
  if (every === 0) return { worker: null, close: async () => {} };
  const queue = new Queue(releaseQueueName, { connection: deps.redis, prefix: deps.config.MC_QUEUE_PREFIX });
  // Upserting is idempotent; while Redis is unreachable it is retried with backoff (producer commands fail fast).
  let stopped = false;
  let retry: ReturnType<typeof setTimeout> | undefined;
  let scheduled: Promise<void> = Promise.resolve();
  const schedule = (delayMs: number) => {
    scheduled = queue
      .upsertJobScheduler(schedulerId, { every }, { name: 'tick', data: {}, opts: { removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } } })
      .then(() => undefined)
      .catch((err: unknown) => {
        deps.logger.warn({ err, retryInMs: delayMs }, 'release controller not scheduled yet; retrying');
        if (!stopped) retry = setTimeout(() => schedule(Math.min(delayMs * 2, 60_000)), delayMs);
      });
  };
  schedule(1000);
  const worker = new Worker(
    releaseQueueName,
    async (job) => {
      releaseTickJobSchema.parse(job.data);
      const result = await runReleaseTick(deps, clock());
      return { canaries: result.canaries, incidents: result.incidents.filter((i) => i.finding.breached).map((i) => i.finding.criterion), rolledBackByBudget: result.budgets.flatMap((b) => b.rolledBack) };
    },
    { connection, prefix: deps.config.MC_QUEUE_PREFIX, concurrency: 1 },
  );
  worker.on('error', (err) => deps.logger.warn({ err, queue: releaseQueueName }, 'worker error'));
  worker.on('failed', (job, err) => deps.logger.warn({ jobId: job?.id, err: err.message }, 'release controller tick failed; the next tick retries'));
  return {
    worker,
    async close() {
      stopped = true;
      clearTimeout(retry);
      await worker.close();
      await scheduled;
      await queue.close();
    },
  };
}
