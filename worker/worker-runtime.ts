import { Worker } from 'bullmq';
import type { Deps } from '@mc/server/deps';
import { createRedisConnection } from '@mc/server/queue/redis-connection';
import { receiptQueueName, taskQueueName } from '@mc/server/queue/task-queues';
import { createReceiptProcessor } from './receipt-processor.ts';
import { sweepOnce } from './sweeper.ts';
import { createSecretProvider } from './secrets/secret-provider-factory.ts';
import { createTaskProcessor } from './task-processor.ts';
import { assertRegistryComplete } from './tasks/registry.ts';

export interface WorkerRuntime {
  workers: Worker[];
  /** Stops taking jobs, lets the running ones finish, then stops the sweeper. */
  close(): Promise<void>;
}

/**
 * A worker process's moving parts: one BullMQ Worker per runner class it serves, one for
 * receipts, and the sweeper. Used by `worker/main.ts` and by tests that run a worker in-process.
 */
export function startWorkerRuntime(deps: Deps): WorkerRuntime {
  assertRegistryComplete();
  const { config } = deps;
  // Workers get their own connection that retries forever (BullMQ's production guide).
  const connection = createRedisConnection(config.REDIS_URL, 'worker');
  connection.on('error', (err) => deps.logger.debug({ err }, 'redis worker connection error'));
  const common = {
    connection,
    prefix: config.MC_QUEUE_PREFIX,
    lockDuration: config.WORKER_LOCK_MS,
    stalledInterval: config.WORKER_STALLED_INTERVAL_MS,
    // A crash is not the task's fault: allow many stalls before BullMQ gives a job up.
    maxStalledCount: 100,
  };
  const secrets = createSecretProvider({
    secretsDir: config.MC_SECRETS_DIR,
    // MC_SECRET_<NAME> variables have open-ended names, so they are read from the environment itself.
    env: process.env,
    vault:
      config.VAULT_ADDR && config.VAULT_TOKEN && config.VAULT_KV_PATH
        ? { address: config.VAULT_ADDR, token: config.VAULT_TOKEN, mount: config.VAULT_KV_MOUNT, path: config.VAULT_KV_PATH, ...(config.VAULT_NAMESPACE ? { namespace: config.VAULT_NAMESPACE } : {}) }
        : undefined,
  });
  const taskProcessor = createTaskProcessor(deps, { secrets });
  const workers = [
    ...config.WORKER_RUNNER_CLASSES.map((rc) => new Worker(taskQueueName(rc), taskProcessor, { ...common, concurrency: config.WORKER_CONCURRENCY })),
    new Worker(receiptQueueName, createReceiptProcessor(deps), { ...common, concurrency: 8 }),
  ];
  for (const w of workers) {
    w.on('error', (err) => deps.logger.warn({ err, queue: w.name }, 'worker error'));
    w.on('failed', (job, err) => deps.logger.info({ jobId: job?.id, queue: w.name, err: err.message }, 'job attempt failed'));
  }

  let sweeping: Promise<unknown> = Promise.resolve();
  const sweepTimer = setInterval(() => {
    sweeping = sweepOnce(deps).catch((err: unknown) => deps.logger.warn({ err }, 'sweep failed; will try again next interval'));
  }, config.MC_SWEEP_INTERVAL_MS);

  return {
    workers,
    async close() {
      clearInterval(sweepTimer);
      await Promise.all(workers.map((w) => w.close()));
      await sweeping;
      connection.disconnect();
    },
  };
}
