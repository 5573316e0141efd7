import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import postgres from 'postgres';
import { startEmbeddedPostgres, type RunningPostgres } from '../../dev/embedded-postgres.ts';
import { startEmbeddedRedis, type RunningRedis } from '../../dev/embedded-redis.ts';

/** A port the kernel just handed out, so it is free and never the defaults 54329/6389. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

describe('the embedded stack of ./dev/run start', () => {
  const root = mkdtempSync(join(tmpdir(), 'mc-embedded-'));
  // mkdtemp makes the dir 0700; as root, Postgres runs as the `postgres` user, who must enter it.
  chmodSync(root, 0o755);
  let pgPort = 0;
  let redisPort = 0;
  let pg: RunningPostgres | null = null;
  let redis: RunningRedis | null = null;

  beforeAll(async () => {
    pgPort = await freePort();
    redisPort = await freePort();
  });

  afterAll(async () => {
    await redis?.stop();
    await pg?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('starts Postgres, which answers a query on the database it created', async () => {
    pg = await startEmbeddedPostgres({ dataDir: join(root, 'postgres'), port: pgPort });
    expect(pg.url).toBe(`postgres://mc:mc@127.0.0.1:${pgPort}/mc`);
    const sql = postgres(pg.url, { max: 1 });
    try {
      const [row] = await sql`select 1 as one, current_database() as db`;
      expect(row).toEqual({ one: 1, db: 'mc' });
    } finally {
      await sql.end();
    }
  });

  it('starts Redis, which answers PING with the settings BullMQ needs', async () => {
    redis = await startEmbeddedRedis({ dir: join(root, 'redis'), port: redisPort });
    const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    try {
      expect(await client.ping()).toBe('PONG');
      expect(await client.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
      expect(await client.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
    } finally {
      client.disconnect();
    }
  });

  it('keeps Postgres data across a stop and a start on the same data dir', async () => {
    if (!pg) throw new Error('Postgres did not start in the first test');
    const before = postgres(pg.url, { max: 1, onnotice: () => {} });
    try {
      await before`create table kept (v text)`;
      await before`insert into kept values ('survives a restart')`;
    } finally {
      await before.end();
    }
    await pg.stop();
    pg = null;
    expect(await isPortFree(pgPort)).toBe(true);

    pg = await startEmbeddedPostgres({ dataDir: join(root, 'postgres'), port: pgPort });
    const after = postgres(pg.url, { max: 1 });
    try {
      expect([...(await after`select v from kept`)]).toEqual([{ v: 'survives a restart' }]);
    } finally {
      await after.end();
    }
  });

  it('reuses a Postgres left running by a run that was killed before it could stop it', async () => {
    await pg?.stop();
    pg = null;
    const dataDir = join(root, 'postgres');
    const module = join(import.meta.dir, '../../dev/embedded-postgres.ts');
    const killed = Bun.spawn([
      process.execPath,
      '-e',
      `const { startEmbeddedPostgres } = await import(${JSON.stringify(module)});
       await startEmbeddedPostgres({ dataDir: ${JSON.stringify(dataDir)}, port: ${pgPort} });
       process.kill(process.pid, 'SIGKILL');`,
    ]);
    expect(await killed.exited).not.toBe(0);
    expect(await isPortFree(pgPort)).toBe(false); // the orphaned postmaster still serves

    pg = await startEmbeddedPostgres({ dataDir, port: pgPort });
    const sql = postgres(pg.url, { max: 1 });
    try {
      expect([...(await sql`select v from kept`)]).toEqual([{ v: 'survives a restart' }]);
    } finally {
      await sql.end();
    }
  });

  it('refuses a Redis port already held by a Redis working in another dir', async () => {
    await expect(startEmbeddedRedis({ dir: join(root, 'other-redis'), port: redisPort })).rejects.toThrow(
      /already in use by a Redis serving/,
    );
  });

  it('frees both ports when stopped', async () => {
    await redis?.stop();
    redis = null;
    await pg?.stop();
    pg = null;
    expect(await isPortFree(redisPort)).toBe(true);
    expect(await isPortFree(pgPort)).toBe(true);
  });
});
