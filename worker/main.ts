import { createDeps } from '@mc/server/deps-factory';
import { runMigrations } from '@mc/server/db/migrate';
import { loadConfig } from '@mc/shared/config';
import { startWorkerRuntime } from './worker-runtime.ts';
import { startWorkerMetricsServer } from './metrics-server.ts';

/** The worker process: runs tasks of its runner classes, signs and stores receipts, sweeps for lost work. */
const config = loadConfig();
await runMigrations(config.DATABASE_URL);
const deps = await createDeps(config, 'worker');
const runtime = startWorkerRuntime(deps);
const metricsServer = startWorkerMetricsServer(deps);
if (metricsServer) deps.logger.info({ url: `http://${config.HOST}:${metricsServer.port}/metrics` }, 'worker metrics listening');
deps.logger.info({ runnerClasses: config.WORKER_RUNNER_CLASSES, concurrency: config.WORKER_CONCURRENCY }, 'mc worker started');

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  deps.logger.info({ signal }, 'mc worker draining');
  await metricsServer?.stop();
  await runtime.close();
  await deps.close();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
