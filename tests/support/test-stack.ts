import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTRPCClient, httpBatchLink } from '@trpc/client';
import superjson from 'superjson';
import { createApp, type App } from '@mc/server/app';
import { createDeps } from '@mc/server/deps-factory';
import { findTenantByName } from '@mc/server/identity/repository';
import { bootstrapIdentity, createTenant, createToken } from '@mc/server/identity/service';
import type { Deps } from '@mc/server/deps';
import type { AppRouter } from '@mc/server/trpc/app-router';
import { loadConfig, type Config } from '@mc/shared/config';
import { startWorkerRuntime, type WorkerRuntime } from '@mc/worker/worker-runtime';
import { createTestDatabase, testRedisUrl, uniqueSuffix } from './test-database.ts';

export interface TestStack {
  deps: Deps;
  config: Config;
  env: Record<string, string>;
  app: App;
  /** The bootstrap admin's token (default tenant); `trpc` and `rest` send it unless told otherwise. */
  adminToken: string;
  trpc: ReturnType<typeof trpcClient>;
  /** A typed client acting with another token. */
  trpcAs(token: string | null): ReturnType<typeof trpcClient>;
  rest: (method: string, path: string, body?: unknown, headers?: Record<string, string>) => Promise<{ status: number; body: any; headers: Headers }>;
  /** A token of the given role, in the given tenant (made if absent). */
  tokenFor(role: 'admin' | 'operator' | 'composer' | 'viewer', tenant?: string): Promise<string>;
  startWorker(): WorkerRuntime;
  close(): Promise<void>;
}

export function trpcClient(app: App, headers: Record<string, string> = {}) {
  return createTRPCClient<AppRouter>({
    links: [
      httpBatchLink({
        url: 'http://mc.test/trpc',
        transformer: superjson,
        headers: () => headers,
        fetch: (url, init) => app.handle(new Request(url, init as RequestInit)),
      }),
    ],
  });
}

/**
 * A whole MC against the machine's real Postgres and Redis: a fresh database, a queue prefix of
 * its own, a temp object store and signing key. The server is driven in-process through
 * `app.handle`; workers run in-process on demand (or as child processes, with `env`).
 */
export async function startTestStack(overrides: Record<string, string> = {}, opts: { worker?: boolean } = {}): Promise<TestStack> {
  const database = await createTestDatabase();
  const dir = mkdtempSync(join(tmpdir(), 'mc-test-'));
  const adminToken = `mc_test_${uniqueSuffix()}${uniqueSuffix()}`;
  const env: Record<string, string> = {
    NODE_ENV: 'test',
    MC_BOOTSTRAP_TOKEN: adminToken,
    DATABASE_URL: database.url,
    REDIS_URL: testRedisUrl,
    MC_QUEUE_PREFIX: `mct${uniqueSuffix()}`,
    OBJECT_STORE_DIR: join(dir, 'objects'),
    MC_SIGNING_KEY_PATH: join(dir, 'keys', 'receipt-signing.pem'),
    MC_MASTER_KEY_PATH: join(dir, 'keys', 'master.key'),
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    MC_SWEEP_INTERVAL_MS: '500',
    MC_RETRY_BACKOFF_MS: '20',
    WORKER_LOCK_MS: '3000',
    WORKER_STALLED_INTERVAL_MS: '1000',
    MC_RECEIPT_WAIT_MS: '20000',
    // Worker child processes of one test would all want 9464; a test that scrapes a worker sets its own.
    WORKER_METRICS_PORT: '0',
    ...overrides,
  };
  const config = loadConfig(env);
  const deps = await createDeps(config, 'test');
  await bootstrapIdentity(deps);
  const app = createApp(deps);
  const asActor = (token: string | null) => (token ? { authorization: `Bearer ${token}` } : ({} as Record<string, string>));
  const runtimes: WorkerRuntime[] = [];
  const startWorker = () => {
    const r = startWorkerRuntime(deps);
    runtimes.push(r);
    return r;
  };
  if (opts.worker !== false) startWorker();
  return {
    deps,
    config,
    env,
    app,
    adminToken,
    trpc: trpcClient(app, asActor(adminToken)),
    trpcAs: (token) => trpcClient(app, asActor(token)),
    async tokenFor(role, tenant = 'default') {
      const admin = { sub: 'test', role: 'admin' as const, tenantId: '', tenantName: 'default', method: 'system' as const, stepUp: true };
      const defaultTenant = (await findTenantByName(deps.db, 'default'))!;
      if (tenant !== 'default' && !(await findTenantByName(deps.db, tenant))) await createTenant(deps, { name: tenant }, { ...admin, tenantId: defaultTenant.id });
      const made = await createToken(deps, { name: `${role}-${tenant}`, role, tenant }, { ...admin, tenantId: defaultTenant.id });
      return made.token;
    },
    async rest(method, path, body, headers = {}) {
      const res = await app.handle(
        new Request(`http://mc.test${path}`, {
          method,
          headers: { ...asActor(adminToken), ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
          ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
        }),
      );
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
      return { status: res.status, body: parsed, headers: res.headers };
    },
    startWorker,
    async close() {
      await Promise.all(runtimes.map((r) => r.close()));
      const queueKeys = await deps.redis.keys(`${config.MC_QUEUE_PREFIX}:*`);
      if (queueKeys.length > 0) await deps.redis.del(...queueKeys);
      await deps.close();
      await database.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls until `check` returns a value (bounded; sleeps between tries). */
export async function eventually<T>(check: () => Promise<T | null | undefined | false>, opts: { timeoutMs?: number; what?: string } = {}): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await Bun.sleep(50);
  }
  throw new Error(`timed out waiting for ${opts.what ?? 'condition'}${last ? `: ${String(last)}` : ''}`);
}
