import { Queue, Worker, type ConnectionOptions } from 'bullmq';
import type { Deps } from '@mc/server/deps';
import { pruneSpend } from '@mc/server/policy/spend-ledger';
import { purgeExpiredLogs } from '@mc/server/retention/retention-service';

export const maintenanceQueueName = 'mc-maintenance';
export const stepLogRetentionJob = 'retention.step-logs';

/**
 * The TTL jobs, as BullMQ job schedulers (repeatable; one scheduler per job however many workers
 * upsert it, and one worker runs each occurrence). Job data is empty: the job reads its config.
 */
export function startRetentionJobs(deps: Deps, common: { connection: ConnectionOptions; prefix: string }) {
  const queue = new Queue(maintenanceQueueName, { connection: deps.redis, prefix: common.prefix });
  const scheduled = queue
    .upsertJobScheduler(stepLogRetentionJob, { every: deps.config.MC_RETENTION_INTERVAL_MS }, { name: stepLogRetentionJob, data: {}, opts: { removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } } })
    .catch((err: unknown) => deps.logger.warn({ err }, 'could not schedule the retention jobs; the next worker start will try again'));
  const worker = new Worker(
    maintenanceQueueName,
    async (job) => {
      if (job.name === stepLogRetentionJob) {
        const outcome = await purgeExpiredLogs(deps);
        // Spend minutes that no budget window can reach any more (operational totals, not records: no audit event).
        await pruneSpend(deps.db, new Date(Date.now() - (deps.config.MC_BUDGET_WINDOW_HOURS + 1) * 3_600_000));
        return outcome;
      }
      throw new Error(`unknown maintenance job ${job.name}`);
    },
    { connection: common.connection, prefix: common.prefix, concurrency: 1 },
  );
  return {
    worker,
    scheduled,
    async close() {
      await worker.close();
      await queue.close();
    },
  };
}
