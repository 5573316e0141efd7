import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { runMigrations } from '../server/db/migrate.ts';
import { newTokenValue } from '../server/identity/service.ts';
import { ensureWebBuild, webBuildIsCurrent } from '../web/build-web.ts';
import { loadConfig } from '../shared/config.ts';
import { postgresCanReach, startEmbeddedPostgres } from './embedded-postgres.ts';
import { startEmbeddedRedis } from './embedded-redis.ts';

/**
 * `bun run start` (what `./dev/run start` ends in): MC on embedded defaults. Postgres and Redis
 * are started under `.mc/` unless DATABASE_URL / REDIS_URL point elsewhere; then migrations,
 * then the server and worker processes. Nothing restarts on its own: if either process exits,
 * everything stops and we exit non-zero, so a crash is seen rather than hidden.
 *
 * Every process we start runs in its own session, so a Ctrl-C reaches only us and we stop
 * things in dependency order: server and worker, then Redis, then Postgres.
 */

const repoRoot = resolve(import.meta.dir, '..');
const stateDir = join(repoRoot, '.mc');
const CHILD_STOP_GRACE_MS = 10_000;
const HEALTH_TIMEOUT_MS = 60_000;

type Stopper = { name: string; stop: () => Promise<void> };
const stoppers: Stopper[] = [];
let stopRequest: { code: number; reason: string } | null = null;
let shuttingDown = false;
let started = false;

function say(line: string): void {
  process.stdout.write(`==> ${line}\n`);
}

function explain(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `\n    cause: ${error.cause.message}` : '';
  return `${error.message}${cause}`;
}

/**
 * Asks everything to stop: at once when running, else after the current start-up step (each
 * is bounded), so nothing is left half-started. The first request decides the exit code.
 */
function requestStop(code: number, reason: string): void {
  if (stopRequest) return;
  stopRequest = { code, reason };
  if (started) void shutdown();
}

function onSignal(signal: string): void {
  if (stopRequest) say('already stopping; waiting for processes to exit');
  else requestStop(0, `received ${signal}`);
}

/** Runs once: from requestStop when running, or from main's end when start-up was cut short. */
async function shutdown(): Promise<never> {
  shuttingDown = true;
  let { code, reason } = stopRequest ?? { code: 0, reason: 'done' };
  say(`stopping (${reason})`);
  for (let s = stoppers.pop(); s; s = stoppers.pop()) {
    try {
      await s.stop();
      say(`stopped ${s.name}`);
    } catch (error) {
      say(`could not stop ${s.name}: ${explain(error)}`);
      code = code || 1;
    }
  }
  process.exit(code);
}

function parsePort(raw: string | undefined): number {
  if (raw === undefined || raw === '') return 3000;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`PORT must be a port number between 1 and 65535, got "${raw}"`);
  }
  return port;
}

/**
 * As root, Postgres runs as the `postgres` user, who cannot enter a clone under /root (0700).
 * Then the cluster lives under /var/lib instead, one per clone, rather than failing.
 */
function postgresDataDir(): string {
  const preferred = join(stateDir, 'postgres');
  if (postgresCanReach(stateDir)) return preferred;
  const id = createHash('sha256').update(repoRoot).digest('hex').slice(0, 8);
  const fallback = join('/var/lib/maestro-conductor', `${basename(repoRoot)}-${id}`, 'postgres');
  say(`the "postgres" user cannot enter ${repoRoot}; keeping the Postgres data in ${fallback}`);
  return fallback;
}

/** Runs `bun <entry>` with its output prefixed, and stops everything if it exits on its own. */
function startProcess(name: string, entry: string, env: Record<string, string | undefined>): ChildProcess {
  const child = spawn(process.execPath, [entry], {
    cwd: repoRoot,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const prefix = (stream: NodeJS.ReadableStream | null, out: NodeJS.WriteStream) => {
    if (!stream) return;
    createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => out.write(`[${name}] ${line}\n`));
  };
  prefix(child.stdout, process.stdout);
  prefix(child.stderr, process.stderr);
  child.once('error', (error) => requestStop(1, `${name} could not be started: ${error.message}`));
  child.once('exit', (code, signal) => {
    if (!shuttingDown) requestStop(1, `${name} exited unexpectedly with ${signal ?? `code ${code}`}`);
  });
  return child;
}

function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), CHILD_STOP_GRACE_MS);
    child.once('exit', () => {
      clearTimeout(kill);
      done();
    });
    child.kill('SIGTERM');
  });
}

async function waitForHealth(url: string): Promise<boolean> {
  const deadline = Date.now() + HEALTH_TIMEOUT_MS;
  while (Date.now() < deadline && !stopRequest) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return true;
    } catch (error) {
      void error; // not listening yet: expected while the server boots
    }
    await Bun.sleep(200);
  }
  return false;
}

const adminTokenPath = join(stateDir, 'admin-token');

/**
 * The embedded stack's admin token: made once, kept (0600) under .mc/ and handed to the server as
 * MC_BOOTSTRAP_TOKEN, so a developer finds the same token after every restart.
 */
function localAdminToken(): string {
  if (existsSync(adminTokenPath)) return readFileSync(adminTokenPath, 'utf8').trim();
  mkdirSync(dirname(adminTokenPath), { recursive: true, mode: 0o700 });
  const token = newTokenValue();
  writeFileSync(adminTokenPath, `${token}\n`, { mode: 0o600, flag: 'wx' });
  return token;
}

function where(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel.startsWith('..') ? path : rel;
}

async function main(): Promise<void> {
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));

  const port = parsePort(process.env.PORT);
  // Validate every variable before starting anything, so a typo is named at once; the URLs
  // stand in for the embedded services that are not started yet.
  const config = loadConfig({
    ...process.env,
    DATABASE_URL: process.env.DATABASE_URL || 'postgres://127.0.0.1/mc',
    REDIS_URL: process.env.REDIS_URL || 'redis://127.0.0.1',
    PORT: String(port),
  });
  for (const entry of ['server/main.ts', 'worker/main.ts']) {
    if (!existsSync(join(repoRoot, entry))) throw new Error(`${entry} is missing from ${repoRoot}`);
  }

  let databaseUrl = process.env.DATABASE_URL || undefined;
  let postgresDir: string | null = null;
  if (!databaseUrl) {
    postgresDir = postgresDataDir();
    say(`starting embedded Postgres (${where(postgresDir)})`);
    const pg = await startEmbeddedPostgres({ dataDir: postgresDir });
    stoppers.push({ name: 'Postgres', stop: pg.stop });
    databaseUrl = pg.url;
  }
  if (stopRequest) return;

  let redisUrl = process.env.REDIS_URL || undefined;
  const redisDir = join(stateDir, 'redis');
  if (!redisUrl) {
    say(`starting embedded Redis (${where(redisDir)})`);
    const redis = await startEmbeddedRedis({ dir: redisDir });
    stoppers.push({ name: 'Redis', stop: redis.stop });
    redisUrl = redis.url;
  }
  if (stopRequest) return;

  say('applying database migrations');
  await runMigrations(databaseUrl);
  if (stopRequest) return;

  if (!webBuildIsCurrent()) say('building the dashboard (web/build)');
  await ensureWebBuild();
  if (stopRequest) return;

  const adminToken = process.env.MC_BOOTSTRAP_TOKEN || localAdminToken();
  const env = { ...process.env, DATABASE_URL: databaseUrl, REDIS_URL: redisUrl, PORT: String(port), MC_BOOTSTRAP_TOKEN: adminToken };
  say('starting server and worker');
  const children = [startProcess('server', 'server/main.ts', env), startProcess('worker', 'worker/main.ts', env)];
  stoppers.push({ name: 'server and worker', stop: async () => void (await Promise.all(children.map(stopProcess))) });

  const base = `http://127.0.0.1:${port}`;
  if (!(await waitForHealth(`${base}/healthz`))) {
    if (!stopRequest) requestStop(1, `the server did not answer ${base}/healthz within ${HEALTH_TIMEOUT_MS / 1000} s`);
    return;
  }

  const objects = config.S3_ENDPOINT ? `S3 at ${config.S3_ENDPOINT}` : where(resolve(repoRoot, config.OBJECT_STORE_DIR));
  const lines = [
    '',
    `Maestro Conductor is running`,
    `  Dashboard    ${base}/`,
    `  API          ${base}/trpc (typed)  ${base}/api (REST)`,
    `  Health       ${base}/healthz`,
    `  Postgres     ${postgresDir ? `${databaseUrl}  data in ${where(postgresDir)}` : 'from DATABASE_URL'}`,
    `  Redis        ${process.env.REDIS_URL ? 'from REDIS_URL' : `${redisUrl}  data in ${where(redisDir)}`}`,
    `  Objects      ${objects}`,
    `  Signing key  ${where(resolve(repoRoot, config.MC_SIGNING_KEY_PATH))}`,
    `  Admin token  ${process.env.MC_BOOTSTRAP_TOKEN ? 'from MC_BOOTSTRAP_TOKEN' : `${adminToken}  (kept in ${where(adminTokenPath)})`}`,
    `               sign in to the dashboard with it; API calls send "Authorization: Bearer <token>"`,
    `Press Ctrl-C to stop.`,
    '',
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

main()
  .catch((error: unknown) => {
    requestStop(1, 'start-up failed');
    say(`start-up failed: ${explain(error)}`);
  })
  .finally(() => {
    started = true;
    if (stopRequest) void shutdown();
  });
