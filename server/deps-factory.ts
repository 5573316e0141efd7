import { loadOrCreateSigningKey } from '@mc/shared/receipt-signing';
import type { Config } from '@mc/shared/config';
import { createLogger } from '@mc/shared/logger';
import { createDatabase } from './db/client.ts';
import { createPdp } from './policy/pdp.ts';
import { createRateLimiter } from './limits/rate-limiter.ts';
import { createOidcAuthenticator } from './auth/oidc-authenticator.ts';
import type { Deps } from './deps.ts';
import { createRedisConnection, settleConnection } from './queue/redis-connection.ts';
import { TaskQueues } from './queue/task-queues.ts';
import { createObjectStore } from './storage/object-store-factory.ts';
import { initTracing } from './observability/tracing.ts';
import { loadOrCreateMasterKey } from './payloads/master-key.ts';
import { attachPayloadVault, PayloadVault } from './payloads/payload-vault.ts';

/** Builds a process's dependencies from its validated config; `close()` releases them in reverse order. */
export async function createDeps(config: Config, name: 'server' | 'worker' | 'test'): Promise<Deps & { close(): Promise<void> }> {
  const logger = createLogger({ level: config.LOG_LEVEL, name: `mc-${name}`, file: config.LOG_FILE });
  initTracing({ serviceName: `mc-${name}`, sampleRatio: config.MC_TRACE_SAMPLE_RATIO, otlpEndpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT });
  const database = createDatabase(config.DATABASE_URL, { poolSize: config.DATABASE_POOL_SIZE });
  const redis = createRedisConnection(config.REDIS_URL, 'producer');
  // A producer connection rejects commands while disconnected; swallowing its 'error' events keeps
  // an outage from crashing the process (each command still fails and is mapped to 503).
  redis.on('error', (err) => logger.debug({ err }, 'redis producer connection error'));
  if (!(await settleConnection(redis))) logger.warn('Redis is not reachable yet; requests that need it answer 503 until it is');
  const queues = new TaskQueues(redis, config.MC_QUEUE_PREFIX, config.MC_RETRY_BACKOFF_MS, config.MC_DISPATCH_WINDOW, {
    attempts: config.MC_RECEIPT_ATTEMPTS,
    backoffMs: config.MC_RECEIPT_RETRY_BACKOFF_MS,
  });
  const objectStore = createObjectStore(config);
  const signingKey = await loadOrCreateSigningKey(config.MC_SIGNING_KEY_PATH);
  // Payloads at rest are always encrypted: the vault is found through the database by the repositories.
  const masterKey = await loadOrCreateMasterKey({ base64: config.MC_MASTER_KEY, path: config.MC_MASTER_KEY_PATH });
  attachPayloadVault(database.db, new PayloadVault({ masterKey, objectStore, inlineMaxBytes: config.MC_PAYLOAD_INLINE_MAX_BYTES }));
  const pdp = createPdp({
    backend: config.MC_PDP,
    ...(config.OPA_URL ? { opaUrl: config.OPA_URL } : {}),
    timeoutMs: config.MC_PDP_TIMEOUT_MS,
    logger,
  });
  return {
    config,
    db: database.db,
    redis,
    queues,
    objectStore,
    signingKey,
    logger,
    pdp,
    oidc: createOidcAuthenticator(config),
    rateLimiter: createRateLimiter(redis, { prefix: `${config.MC_QUEUE_PREFIX}:rl` }),
    async close() {
      await queues.close();
      redis.disconnect();
      await database.close();
    },
  };
}
