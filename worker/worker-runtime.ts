import { Worker } from 'bullmq';
import type { Deps } from '@mc/server/deps';
import { createRedisConnection } from '@mc/server/queue/redis-connection';
import { receiptQueueName, taskQueueName } from '@mc/server/queue/task-queues';
import { createReceiptProcessor } from './receipt-processor.ts';
import { sweepOnce } from './sweeper.ts';
import { createSecretProvider } from './secrets/secret-provider-factory.ts';
import { createTaskProcessor } from './task-processor.ts';
import { startEngineControl } from './engine-control.ts';
import { RunningTasks } from './running-tasks.ts';
import { WakeTimers } from './wake-timers.ts';
import { BackgroundReceipts } from './background-receipts.ts';
import { instrumentTaskProcessor } from './task-telemetry.ts';
import { startOutboxRelay } from '@mc/server/audit/outbox-relay';
import { startRetentionJobs } from './retention-jobs.ts';
import { startReleaseController } from './releases/release-controller.ts';
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
  // Cancel and reject reach running tasks through this registry (worker/engine-control.ts).
  const running = new RunningTasks(config.MC_CANCEL_GRACE_MS);
  const wakes = new WakeTimers();
  // Receipts of finished runs, issued after their jobs returned; close waits for them.
  const receiptsInFlight = new BackgroundReceipts(config.WORKER_CONCURRENCY);
  const taskProcessor = instrumentTaskProcessor(deps, createTaskProcessor(deps, { secrets, running, wakes, receiptsInFlight }));
  const taskWorkers = config.WORKER_RUNNER_CLASSES.map((rc) => {
    const w = new Worker(taskQueueName(rc), taskProcessor, { ...common, concurrency: config.WORKER_CONCURRENCY });
    // A finished job frees a slot in the runner queue's window: let the fair dispatcher fill it.
    const refill = () => void deps.queues.dispatch(rc, { refill: true }).catch((err: unknown) => deps.logger.debug({ err }, 'dispatch failed'));
    w.on('completed', refill);
    w.on('failed', refill);
    return w;
  });
  const engineControl = startEngineControl(deps, running, common);
  const workers = [...taskWorkers, new Worker(receiptQueueName, createReceiptProcessor(deps), { ...common, concurrency: 8 }), engineControl.scheduleWorker];
  // TTL jobs (docs/data/MC_DATA_LIFECYCLE.md): closed with the runtime's other workers.
  const retention = startRetentionJobs(deps, common);
  workers.push(retention.worker);
  // Canary controller, error budget and Sev1 detection (server/releases/): one repeatable job.
  const releaseController = startReleaseController(deps, connection);
  for (const w of workers) {
    w.on('error', (err) => deps.logger.warn({ err, queue: w.name }, 'worker error'));
    w.on('failed', (job, err) => deps.logger.info({ jobId: job?.id, queue: w.name, err: err.message }, 'job attempt failed'));
  }

  let sweeping: Promise<unknown> = Promise.resolve();
  const sweepTimer = setInterval(() => {
    sweeping = sweepOnce(deps).catch((err: unknown) => deps.logger.warn({ err }, 'sweep failed; will try again next interval'));
  }, config.MC_SWEEP_INTERVAL_MS);

  // The audit outbox → mc-events bus (Redis Streams); any number of workers may run it.
  const relay = startOutboxRelay({ db: deps.db, redis: deps.redis, prefix: config.MC_QUEUE_PREFIX, logger: deps.logger }, config.MC_EVENT_RELAY_INTERVAL_MS);

  return {
    workers,
    async close() {
      await relay.close();
      clearInterval(sweepTimer);
      await Promise.all(workers.map((w) => w.close()));
      await receiptsInFlight.settled();
      wakes.clear();
      await engineControl.close();
      await releaseController.close();
      await retention.close();
      await sweeping;
      connection.disconnect();
    },
  };
}
