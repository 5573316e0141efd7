import { z } from 'zod';

/**
 * Every environment variable MC reads, validated once at process start. `dev/.env.example`
 * documents each; a bad value stops the process and names the variable.
 */
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const int = (def: number, min = 0, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max).default(def);
const csv = z.string().transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean));

export const configSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  HOST: z.string().default('127.0.0.1'),
  PORT: int(3000, 0, 65535),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  DATABASE_URL: z.string().url(),
  DATABASE_POOL_SIZE: int(10, 1, 200),
  REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
  /** BullMQ key prefix; tests give each file its own so they never see each other's jobs. */
  MC_QUEUE_PREFIX: z.string().regex(/^[a-zA-Z0-9_-]+$/).default('mc'),

  /** Object store: S3 when S3_ENDPOINT is set, else the write-once filesystem store. */
  S3_ENDPOINT: z.string().url().optional(),
  S3_REGION: z.string().default('us-east-1'),
  S3_ACCESS_KEY_ID: z.string().optional(),
  S3_SECRET_ACCESS_KEY: z.string().optional(),
  S3_FORCE_PATH_STYLE: bool.default(true),
  OBJECT_STORE_DIR: z.string().default('.mc/objects'),

  MC_SIGNING_KEY_PATH: z.string().default('.mc/keys/receipt-signing.pem'),
  MC_DEFAULT_REGION: z.string().regex(/^[a-z][a-z0-9-]{0,30}$/).default('us'),
  MC_RECEIPT_RETENTION_DAYS: int(2557, 1),
  MC_RECEIPT_WAIT_MS: int(30_000, 0, 300_000),

  MC_MAX_MANIFEST_BYTES: int(262_144, 1024),
  MC_MAX_TASKS: int(2_000, 1, 100_000),
  MC_MAX_INPUT_BYTES: int(262_144, 1024),
  MC_HTTP_ALLOWED_HOSTS: csv.default([]),

  WORKER_CONCURRENCY: int(16, 1, 1000),
  WORKER_RUNNER_CLASSES: csv.default(['default']),
  /** How long a worker's hold on a job lasts without renewal; a killed worker's task is re-delivered after it. */
  WORKER_LOCK_MS: int(30_000, 1000),
  WORKER_STALLED_INTERVAL_MS: int(30_000, 500),
  /** The sweeper re-enqueues work whose enqueue was lost to a crash between commit and enqueue. */
  MC_SWEEP_INTERVAL_MS: int(5_000, 100),
  MC_RETRY_BACKOFF_MS: int(1_000, 1),

  /** Policy decision point: the in-process packs, or OPA's Data API. Either way a non-answer denies. */
  MC_PDP: z.enum(['embedded', 'opa']).default('embedded'),
  OPA_URL: z.string().url().optional(),
  MC_PDP_TIMEOUT_MS: int(200, 1, 60_000),
  /** Budget pack: most one run may cost, and most a tenant may spend over the rolling window. */
  MC_BUDGET_PER_RUN_USD: z.coerce.number().min(0).default(10),
  MC_BUDGET_TENANT_WINDOW_USD: z.coerce.number().min(0).default(1000),
  MC_BUDGET_WINDOW_HOURS: z.coerce.number().positive().max(24 * 366).default(24),
  /** Freeze pack: while on, publishing new versions is denied (rollbacks to an older version are allowed). */
  MC_CHANGE_FREEZE: bool.default(false),
});

export type Config = z.infer<typeof configSchema>;

export class ConfigError extends Error {}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // Empty strings are "unset": shells and .env files write `FOO=` for that.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = configSchema.safeParse(cleaned);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}
