import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Subprocess } from 'bun';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { runMigrations } from '@mc/server/db/migrate';
import type { ManifestInput } from '@mc/shared/manifest';
import { benchRedisUrl, createBenchDatabase, deleteRedisPrefix, uniqueSuffix, type BenchDatabase } from './pg-admin.ts';
import { startQueryCounter, type QueryCounter } from './pg-query-counter.ts';
import { makeStackDir } from './stack-files.ts';

/**
 * A real MC for the bench: a fresh database on the machine's Postgres, a Redis key prefix of its
 * own, and `bun server/main.ts` + `bun worker/main.ts` as child processes — the same entry points
 * production runs. Limits that would throttle a load test (rate limits, the budget window, the
 * concurrent-execution quota) are raised; everything else (policy, audit, receipts) is as shipped.
 */
export interface McStackOptions {
  label: string;
  workerConcurrency: number;
  poolSize: number;
  /** Run both processes under `bun --cpu-prof-md`, writing profiles here. */
  cpuProfDir?: string;
  /** `chrome`: `--cpu-prof` instead (a .cpuprofile with call trees; the markdown one's attribution is coarser). */
  cpuProfFormat?: 'md' | 'chrome';
  /** Put a statement-counting proxy between each process and Postgres. */
  countQueries?: boolean;
  env?: Record<string, string>;
  /** False: no vacuum stand-in, for a measurement that vacuums by itself. */
  vacuumStandIn?: boolean;
}

export interface McStack {
  api: string;
  token: string;
  /** The bench's own connection to MC's database (for counts and timestamps). */
  sql: postgres.Sql;
  database: BenchDatabase;
  /** MC's Redis key prefix (`MC_QUEUE_PREFIX`): BullMQ's keys are `<prefix>:<queue>:…`. */
  queuePrefix: string;
  server: Subprocess;
  worker: Subprocess;
  queryCounters: { server: QueryCounter; worker: QueryCounter } | null;
  request(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  /** Creates and publishes a workflow; returns its id. */
  publish(manifest: ManifestInput): Promise<string>;
  /** Starts an execution; returns its id. */
  start(workflowId: string): Promise<string>;
  rss(): { server: number; worker: number };
  /** The vacuum stand-in's passes so far (none when the machine's autovacuum is on). */
  maintenancePasses(): readonly MaintenancePass[];
  /**
   * Vacuums and analyzes MC's tables now. A part calls it after its warm-up: a fresh database's
   * tables have never been analyzed, and until the stand-in's first pass (20 s in) Postgres plans
   * them blind, which no running MC's database is.
   */
  maintainNow(): Promise<void>;
  stop(): Promise<void>;
}

const repoRoot = new URL('..', import.meta.url).pathname;

export async function startMcStack(opts: McStackOptions): Promise<McStack> {
  const database = await createBenchDatabase(opts.label);
  await runMigrations(database.url);
  // Its files stay until the run ends (bench/stack-files.ts).
  const dir = makeStackDir();
  const prefix = `mcb${uniqueSuffix()}`;
  const token = `mc_bench_${uniqueSuffix()}${uniqueSuffix()}`;
  const port = await freeLoopbackPort();
  const baseEnv: Record<string, string> = {
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    HOST: '127.0.0.1',
    PORT: String(port),
    DATABASE_URL: database.url,
    DATABASE_POOL_SIZE: String(opts.poolSize),
    REDIS_URL: benchRedisUrl,
    MC_QUEUE_PREFIX: prefix,
    OBJECT_STORE_DIR: join(dir, 'objects'),
    MC_SIGNING_KEY_PATH: join(dir, 'keys', 'receipt-signing.pem'),
    MC_MASTER_KEY_PATH: join(dir, 'keys', 'master.key'),
    MC_BOOTSTRAP_TOKEN: token,
    WORKER_CONCURRENCY: String(opts.workerConcurrency),
    MC_RATE_LIMIT_PER_TOKEN: '100000000',
    MC_RATE_LIMIT_PER_TENANT: '100000000',
    MC_BUDGET_TENANT_WINDOW_USD: '1000000000',
    MC_QUOTA_CONCURRENT_EXECUTIONS: '1000000',
    MC_MAX_TASKS: '2000',
    MC_RECEIPT_WAIT_MS: '60000',
    ...opts.env,
  };
  const queryCounters = opts.countQueries
    ? { server: startQueryCounter({ host: '127.0.0.1', port: 5432 }), worker: startQueryCounter({ host: '127.0.0.1', port: 5432 }) }
    : null;
  const viaCounter = (c: QueryCounter | undefined) => {
    if (!c) return database.url;
    const u = new URL(database.url);
    u.port = String(c.port);
    return u.toString();
  };
  const spawn = (entry: 'server/main.ts' | 'worker/main.ts', env: Record<string, string>) => {
    const name = entry.startsWith('server') ? 'server' : 'worker';
    const chrome = opts.cpuProfFormat === 'chrome';
    const prof = opts.cpuProfDir ? [chrome ? '--cpu-prof' : '--cpu-prof-md', `--cpu-prof-dir=${opts.cpuProfDir}`, `--cpu-prof-name=${name}.${chrome ? 'cpuprofile' : 'md'}`] : [];
    return Bun.spawn(['bun', ...prof, entry], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', ...env },
      stdout: Bun.file(join(dir, `${name}.log`)),
      stderr: Bun.file(join(dir, `${name}.err`)),
    });
  };
  const server = spawn('server/main.ts', { ...baseEnv, DATABASE_URL: viaCounter(queryCounters?.server) });
  const api = `http://127.0.0.1:${port}`;
  await waitReady(api, server, dir);
  // The server has bootstrapped identity; the worker starts second so the two never race on it.
  const worker = spawn('worker/main.ts', { ...baseEnv, DATABASE_URL: viaCounter(queryCounters?.worker) });
  const sql = postgres(database.url, { max: 4, onnotice: () => {} });
  const vacuumer = opts.vacuumStandIn === false ? { passes: () => [], stop: async () => {} } : await startVacuumStandIn(database.url);

  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const request = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${api}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
    return { status: res.status, body: parsed as any };
  };

  return {
    api,
    token,
    sql,
    database,
    queuePrefix: prefix,
    server,
    worker,
    queryCounters,
    request,
    async publish(manifest) {
      const made = await request('POST', '/api/workflows', manifest);
      if (made.status !== 201) throw new Error(`create workflow ${manifest.name}: ${made.status} ${JSON.stringify(made.body).slice(0, 500)}`);
      const pub = await request('POST', `/api/workflows/${made.body.id}/publish`);
      if (pub.status >= 300) throw new Error(`publish ${manifest.name}: ${pub.status} ${JSON.stringify(pub.body).slice(0, 500)}`);
      return made.body.id as string;
    },
    async start(workflowId) {
      const res = await fetch(`${api}/api/executions`, { method: 'POST', headers, body: JSON.stringify({ workflowId }) });
      const body = (await res.json()) as { id?: string };
      if (res.status !== 201 && res.status !== 200) throw new Error(`start: ${res.status} ${JSON.stringify(body).slice(0, 300)}`);
      if (!body.id) throw new Error('start: no id in the response');
      return body.id;
    },
    rss: () => ({ server: rssBytes(server.pid), worker: rssBytes(worker.pid) }),
    maintenancePasses: () => vacuumer.passes(),
    async maintainNow() {
      await sql.unsafe(`vacuum (analyze) ${updatedTables.join(', ')}`);
      await sql.unsafe(`analyze ${growingTables.join(', ')}`);
    },
    async stop() {
      for (const p of [worker, server]) p.kill('SIGTERM');
      const deadline = Bun.sleep(20_000).then(() => 'timeout' as const);
      for (const p of [worker, server]) {
        if ((await Promise.race([p.exited, deadline])) === 'timeout') p.kill('SIGKILL');
      }
      await vacuumer.stop();
      await sql.end({ timeout: 5 });
      queryCounters?.server.stop();
      queryCounters?.worker.stop();
      const redis = new Redis(benchRedisUrl, { maxRetriesPerRequest: 3 });
      await deleteRedisPrefix(redis, prefix);
      redis.disconnect();
      await database.drop();
    },
  };
}

/** One pass of the vacuum stand-in: when it began (ms since epoch), how long its vacuum (with analyze) of the updated tables took, and its analyze of the growing ones (null when the pass had none). */
export interface MaintenancePass {
  at: number;
  vacuumMs: number;
  analyzeMs: number | null;
}

/** MC's tables that take updates on every execution: without vacuum their dead rows pile up. */
const updatedTables = ['executions', 'execution_steps', 'tenant_spend_minutes', 'audit_outbox_cursors', 'api_request_minutes'];
/** MC's tables that only grow on every execution and are read by key: without statistics their plans go wrong. */
const growingTables = ['policy_decisions', 'execution_approvals', 'audit_events', 'receipts', 'execution_logs', 'execution_transitions', 'task_results', 'execution_data_keys'];
export const vacuumStandInIntervalMs = 20_000;
/** Passes between two analyzes of the growing tables: once a minute. */
const growingAnalyzeEvery = 3;

/**
 * The machine's Postgres runs with `autovacuum = off` (a test service). A production Postgres
 * vacuums the tables MC updates on every execution (executions ×4, steps ×2); without it a
 * minutes-long run at ~100/s leaves hundreds of thousands of dead rows and slows down — a
 * property of that service, not of MC. Autovacuum also analyzes the tables that only grow: a
 * table never analyzed has no statistics, and Postgres then guesses that a value of a non-unique
 * column matches 0.5 % of its rows — reading a receipt group's policy decisions
 * (`execution_id in (…64 ids)`) became a scan of the whole table, 4 ms at 13,000 rows and growing
 * with it (2026-11-25). So when autovacuum is off, the bench vacuums the first kind in its own
 * database every 20 s and analyzes the second once a minute, as autovacuum would (its launcher
 * visits a database once per `autovacuum_naptime`, a minute by default); the report says so.
 */
async function startVacuumStandIn(url: string): Promise<{ passes(): readonly MaintenancePass[]; stop(): Promise<void> }> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  const [setting] = await sql<{ autovacuum: string }[]>`show autovacuum`;
  if (setting?.autovacuum !== 'off') {
    await sql.end();
    return { passes: () => [], stop: async () => {} };
  }
  let running: Promise<unknown> = Promise.resolve();
  let pass = 0;
  const passes: MaintenancePass[] = [];
  const timer = setInterval(() => {
    // The growing tables at most once a minute (autovacuum_naptime's default). Their ANALYZE
    // sampled 30,000 rows each until drizzle/0005_key_read_statistics.sql (3,000 now): a burst of
    // both cores that showed as a publish→start spike at 250/s on every pass when it ran every 20 s.
    const analyzeGrowing = pass++ % growingAnalyzeEvery === 0;
    const at = Date.now();
    const record: MaintenancePass = { at, vacuumMs: 0, analyzeMs: null };
    passes.push(record);
    running = sql
      .unsafe(`vacuum (analyze) ${updatedTables.join(', ')}`)
      .then(async () => {
        record.vacuumMs = Date.now() - at;
        if (!analyzeGrowing) return;
        await sql.unsafe(`analyze ${growingTables.join(', ')}`);
        record.analyzeMs = Date.now() - at - record.vacuumMs;
      })
      .catch(() => undefined);
  }, vacuumStandInIntervalMs);
  return {
    passes: () => passes,
    async stop() {
      clearInterval(timer);
      await running;
      await sql.end({ timeout: 5 });
    },
  };
}

async function waitReady(api: string, proc: Subprocess, dir: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) {
      throw new Error(`mc server exited (${proc.exitCode}) before ready:\n${readFileSafe(join(dir, 'server.log'))}\n${readFileSafe(join(dir, 'server.err'))}`);
    }
    try {
      if ((await fetch(`${api}/readyz`)).ok) return;
    } catch {
      // not listening yet
    }
    await Bun.sleep(100);
  }
  throw new Error(`mc server not ready after 60 s:\n${readFileSafe(join(dir, 'server.err'))}`);
}

function readFileSafe(path: string): string {
  try {
    return readFileSync(path, 'utf8').slice(-4000);
  } catch (e) {
    return `(no ${path}: ${String(e)})`;
  }
}

/** VmRSS of a process, in bytes (0 when it is gone). */
export function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

async function freeLoopbackPort(): Promise<number> {
  const s = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } });
  const port = s.port;
  s.stop(true);
  return port;
}
