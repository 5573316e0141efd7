import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import Redis from 'ioredis';

/**
 * The embedded queue of `./dev/run start`: the machine's `redis-server` binary run under
 * `.mc/redis`. BullMQ needs `noeviction` (an evicted job key is a lost job), and the
 * append-only file keeps queued work across a restart.
 */

export interface EmbeddedRedisOptions {
  /** Working directory: the AOF and the log live here. */
  dir: string;
  /** Default 6389, so it never meets the machine's Redis on 6379. */
  port?: number;
}

export interface RunningRedis {
  url: string;
  /** SIGTERM (Redis flushes the AOF and exits); SIGKILL if it has not exited after 10 s. */
  stop(): Promise<void>;
}

export const DEFAULT_REDIS_PORT = 6389;
const READY_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 10_000;

export class EmbeddedRedisError extends Error {}

export async function startEmbeddedRedis(options: EmbeddedRedisOptions): Promise<RunningRedis> {
  const dir = resolve(options.dir);
  const port = options.port ?? DEFAULT_REDIS_PORT;
  const url = `redis://127.0.0.1:${port}`;
  mkdirSync(dir, { recursive: true });

  if (await portAnswers(port)) {
    const running = await identify(url);
    // Left by an earlier run killed before it could stop it: reuse it if it works in our dir.
    if (running.dir !== dir) {
      throw new EmbeddedRedisError(
        `port ${port} is already in use by a Redis serving ${running.dir} (pid ${running.pid}); free the port or set REDIS_URL.`,
      );
    }
    return { url, stop: () => stopPid(running.pid) };
  }

  const bin = findRedisServer();
  const logPath = join(dir, 'redis.log');
  const log = openSync(logPath, 'a');
  let child: ChildProcess;
  try {
    child = spawn(
      bin,
      [
        '--port', String(port),
        '--bind', '127.0.0.1',
        '--dir', dir,
        '--save', '',
        '--appendonly', 'yes',
        '--maxmemory-policy', 'noeviction',
      ],
      // Own session: terminal signals reach dev/start.ts only, which stops Redis after the worker.
      { detached: true, stdio: ['ignore', log, log] },
    );
  } finally {
    closeSync(log);
  }
  await waitUntilReady(child, url, logPath);
  return { url, stop: () => stopChild(child) };
}

function findRedisServer(): string {
  const path = Bun.which('redis-server');
  if (path === null) {
    throw new EmbeddedRedisError(
      'redis-server is not installed: run ./dev/run start, which installs it, or apt-get install redis-server.',
    );
  }
  return path;
}

interface RedisIdentity {
  pid: number;
  dir: string;
}

/** Which Redis answers on `url`: its pid and working directory. */
async function identify(url: string): Promise<RedisIdentity> {
  const client = oneShotClient(url);
  try {
    await client.connect();
    const info = await client.info('server');
    const reply: unknown = await client.config('GET', 'dir');
    const dir = Array.isArray(reply) && typeof reply[1] === 'string' ? reply[1] : '(unknown)';
    return { pid: Number(/process_id:(\d+)/.exec(info)?.[1]), dir };
  } catch (error) {
    throw new EmbeddedRedisError(`${url} is in use by something that is not a Redis we can inspect; free the port or set REDIS_URL.`, {
      cause: error,
    });
  } finally {
    client.disconnect();
  }
}

async function waitUntilReady(child: ChildProcess, url: string, logPath: string): Promise<void> {
  let exited: string | null = null;
  child.once('exit', (code, signal) => {
    exited = `exited with ${signal ?? `code ${code}`}`;
  });
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastError: unknown = null;
  while (Date.now() < deadline) {
    if (exited) throw new EmbeddedRedisError(`redis-server ${exited} while starting:\n${tail(logPath)}`);
    const client = oneShotClient(url);
    try {
      await client.connect();
      // While loading the AOF Redis answers PING with -LOADING, which rejects: keep waiting.
      if ((await client.ping()) === 'PONG') return;
    } catch (error) {
      lastError = error;
    } finally {
      client.disconnect();
    }
    await Bun.sleep(50);
  }
  child.kill('SIGKILL');
  throw new EmbeddedRedisError(`redis-server did not answer PING within ${READY_TIMEOUT_MS / 1000} s:\n${tail(logPath)}`, {
    cause: lastError,
  });
}

/** A client that tries once and reports failure instead of reconnecting forever. */
function oneShotClient(url: string): Redis {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 1000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  // Failures reach the caller through connect()/command promises; without a listener ioredis
  // would also print each one as an "Unhandled error event".
  client.on('error', (error: unknown) => void error);
  return client;
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

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const escalate = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    child.once('exit', () => {
      clearTimeout(escalate);
      done();
    });
    child.kill('SIGTERM');
  });
}

async function stopPid(pid: number): Promise<void> {
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  process.kill(pid, 'SIGTERM');
  while (isAlive(pid)) {
    if (Date.now() > deadline) process.kill(pid, 'SIGKILL');
    await Bun.sleep(50);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    if (error instanceof Error && 'code' in error && error.code === 'ESRCH') return false;
    throw error;
  }
}

function tail(path: string, lines = 20): string {
  if (!existsSync(path)) return '(no log)';
  return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}
