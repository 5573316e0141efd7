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
  /** Write the JSON log lines to this file instead of stdout. */
  LOG_FILE: z.string().optional(),
  /** Telemetry (docs/observability/TELEMETRY.md): share of traces kept when nothing errors (errored ones are always kept). */
  MC_TRACE_SAMPLE_RATIO: z.coerce.number().min(0).max(1).default(0.1),
  /** OTLP/HTTP collector base URL (traces go to `<url>/v1/traces`); unset = no exporter, nothing leaves the process. */
  OTEL_EXPORTER_OTLP_ENDPOINT: z.string().url().optional(),
  /** The worker's own `/metrics` and `/healthz` port; 0 disables it. */
  WORKER_METRICS_PORT: int(9464, 0, 65535),
  /** How often the worker's outbox relay looks for audit events to publish to the mc-events bus when idle. */
  MC_EVENT_RELAY_INTERVAL_MS: int(250, 10, 60_000),
  /** How often an `events.subscribe` stream looks for new events of its tenant. */
  MC_EVENTS_POLL_MS: int(500, 10, 60_000),

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
  /** Step logs older than this are deleted by the worker's TTL job (spec §3: 90 days). */
  MC_LOG_RETENTION_DAYS: int(90, 0),
  /** How often the TTL jobs run (a BullMQ job scheduler in the worker). */
  MC_RETENTION_INTERVAL_MS: int(3_600_000, 1000),
  /** Rows deleted per batch (each batch is recorded in retention_runs). */
  MC_RETENTION_BATCH_SIZE: int(5_000, 1, 100_000),
  /** Wraps every execution's data key (base64 of 32 bytes); when unset, the key file at MC_MASTER_KEY_PATH (created on first start). */
  MC_MASTER_KEY: z.string().optional(),
  MC_MASTER_KEY_PATH: z.string().default('.mc/keys/master.key'),
  /** Payloads (inputs, outputs) larger than this go to the region's object store bucket, encrypted, referenced by digest. */
  MC_PAYLOAD_INLINE_MAX_BYTES: int(262_144, 0),
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
  /**
   * Receipt jobs (an object store that refuses writes keeps executions `receipt_pending`): this
   * many attempts, the delay doubling from MC_RECEIPT_RETRY_BACKOFF_MS, then the job is dropped
   * and the sweeper enqueues it again on its next pass — so retries never stop and, once the
   * store is back, the longest wait is the last backoff (16 s by default) plus a sweep.
   */
  MC_RECEIPT_ATTEMPTS: int(7, 1, 30),
  MC_RECEIPT_RETRY_BACKOFF_MS: int(500, 1, 60_000),
  /** Cancel: how long a running task has, after its abort signal, before it is abandoned and the step recorded cancelled. */
  MC_CANCEL_GRACE_MS: int(10_000, 0, 600_000),
  /** Workers also poll the status of the executions they are running this often (a cancel missed on pub/sub still lands). */
  MC_CONTROL_POLL_MS: int(2_000, 100, 60_000),
  /** Fair dispatch: ready tasks wait in per-tenant lists and move into a runner queue, round-robin, while it holds fewer than this many waiting jobs. */
  MC_DISPATCH_WINDOW: int(64, 1, 100_000),
  /** Reaper: a step whose job was lost is put back on the queue at most this many times, then failed with the reason. */
  MC_REAPER_MAX_REQUEUES: int(5, 1, 1000),
  /** A task queue with jobs waiting and none active for this long is reported stalled (`mc_queue_stalled`, /readyz): workers connected but not consuming. */
  MC_QUEUE_STALL_SECONDS: int(60, 1),
  /** Schedules: a fire taken up later than this is "missed" (its schedule's missedRunPolicy decides: skip, or run once). */
  MC_SCHEDULE_MISFIRE_MS: int(60_000, 1000),

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
  /**
   * Canary releases (server/releases/, spec §10): the canary's weight at each stage and how long
   * each stage must run healthy before the next (the last stage's promotion makes it stable).
   */
  MC_CANARY_WEIGHTS: csv.pipe(z.array(z.coerce.number<string>().int().min(1).max(99)).min(1)).default([10, 50]),
  MC_CANARY_WINDOWS_MS: csv.pipe(z.array(z.coerce.number<string>().int().min(1)).min(1)).default([1_800_000, 3_600_000]),
  /** Fewest finished canary executions a stage needs before it may pass: no data is never a pass. */
  MC_CANARY_MIN_SAMPLES: int(20, 1),
  MC_CANARY_MAX_P95_MS: int(900, 1),
  MC_CANARY_MAX_ERROR_RATE: z.coerce.number().min(0).max(1).default(0.01),
  MC_CANARY_MAX_DENY_RATE: z.coerce.number().min(0).max(1).default(0.05),
  /** How often the worker's release controller runs (canaries, error budget, Sev1 detection); 0 turns it off. */
  MC_RELEASE_CONTROLLER_INTERVAL_MS: int(30_000, 0),
  /** Error budget (spec §9): availability SLO and its window. */
  MC_SLO_TARGET: z.coerce.number().gt(0).lt(1).default(0.999),
  MC_SLO_WINDOW_DAYS: int(28, 1, 366),

  /** The first admin's API token, for automation; when unset a token is made on first start and printed once. */
  MC_BOOTSTRAP_TOKEN: z.string().regex(/^mc_[A-Za-z0-9_-]{20,200}$/, 'must look like mc_<at least 20 url-safe characters>').optional(),
  /** Requests without credentials act with this role in the default tenant. Off unless set; refused unless HOST is loopback. */
  MC_ANONYMOUS_ROLE: z.enum(['admin', 'operator', 'composer', 'viewer']).optional(),
  /** Requests per minute, per API token or OIDC subject, and per tenant. */
  MC_RATE_LIMIT_PER_TOKEN: int(1200, 1),
  MC_RATE_LIMIT_PER_TENANT: int(6000, 1),
  /** Executions not yet finished (queued, pending, running or paused) at once, per tenant. */
  MC_QUOTA_CONCURRENT_EXECUTIONS: int(1000, 1),
  /** Backpressure: above this many ready tasks waiting (queued or staged, across task queues) `executions.start` answers 429. */
  MC_MAX_QUEUE_DEPTH: int(100_000, 1),
  /** Per runner class, executions pending or running at once per tenant, e.g. `gpu=2,default=500`; classes not listed are bounded by the tenant quota only. */
  MC_QUOTA_RUNNER_CLASS_CONCURRENCY: z
    .string()
    .regex(/^([a-z][a-z0-9-]{0,30}=\d+)(,[a-z][a-z0-9-]{0,30}=\d+)*$/, 'must look like gpu=2,default=500')
    .transform((s) => Object.fromEntries(s.split(',').map((pair) => { const [k, v] = pair.split('='); return [k!, Number(v)]; })) as Record<string, number>)
    .optional()
    .transform((v) => v ?? {}),
  /**
   * OIDC bearer tokens (off unless MC_OIDC_ISSUER is set). Validated in detail, with these
   * defaults, by server/auth/oidc-verifier.ts (`oidcSettingsFromEnv`) at start.
   */
  MC_OIDC_ISSUER: z.string().optional(),
  MC_OIDC_AUDIENCE: z.string().optional(),
  MC_OIDC_JWKS_URL: z.string().optional(),
  MC_OIDC_ALGORITHMS: z.string().optional(),
  MC_OIDC_TENANT_CLAIM: z.string().optional(),
  MC_OIDC_ROLE_CLAIM: z.string().optional(),
  MC_OIDC_CLOCK_TOLERANCE_SEC: z.string().optional(),
  MC_OIDC_STEPUP_MAX_AGE_SEC: z.string().optional(),
  MC_OIDC_STEPUP_ACR: z.string().optional(),
  MC_OIDC_STEPUP_AMR: z.string().optional(),
  /**
   * Secrets for `${{ secrets.NAME }}`, resolved only in the worker: a directory with one file per
   * secret, then Vault KV v2 (when VAULT_ADDR is set), then `MC_SECRET_<NAME>` variables.
   */
  MC_SECRETS_DIR: z.string().optional(),
  VAULT_ADDR: z.string().url().optional(),
  VAULT_TOKEN: z.string().optional(),
  VAULT_KV_MOUNT: z.string().default('secret'),
  VAULT_KV_PATH: z.string().optional(),
  VAULT_NAMESPACE: z.string().optional(),
  /** Start even when Redis may evict keys or Postgres commits asynchronously (development only). */
  MC_ALLOW_UNSAFE_BACKENDS: bool.default(false),
});

export type Config = z.infer<typeof configSchema>;

function checkDependentVariables(c: Config): string[] {
  const problems: string[] = [];
  if (c.VAULT_ADDR && (!c.VAULT_TOKEN || !c.VAULT_KV_PATH)) problems.push('  VAULT_TOKEN, VAULT_KV_PATH: required when VAULT_ADDR is set');
  if (c.MC_PDP === 'opa' && !c.OPA_URL) problems.push('  OPA_URL: required when MC_PDP=opa');
  if (c.MC_CANARY_WEIGHTS.length !== c.MC_CANARY_WINDOWS_MS.length) problems.push('  MC_CANARY_WINDOWS_MS: needs one window per MC_CANARY_WEIGHTS stage');
  if (c.MC_CANARY_WEIGHTS.some((w, i) => i > 0 && w <= c.MC_CANARY_WEIGHTS[i - 1]!)) problems.push('  MC_CANARY_WEIGHTS: must increase');
  return problems;
}

export class ConfigError extends Error {}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // Empty strings are "unset": shells and .env files write `FOO=` for that.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = configSchema.safeParse(cleaned);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const dependent = checkDependentVariables(parsed.data);
  if (dependent.length > 0) throw new ConfigError(`invalid configuration:\n${dependent.join('\n')}`);
  return parsed.data;
}
