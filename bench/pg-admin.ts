import postgres from 'postgres';

/** The machine's Postgres, as the test suite uses it; each bench part gets a database of its own, dropped after. */
export const adminDatabaseUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const benchRedisUrl = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

export function uniqueSuffix(): string {
  return `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
}

export interface BenchDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

export async function createBenchDatabase(label: string): Promise<BenchDatabase> {
  const name = `mc_bench_${label}_${uniqueSuffix()}`;
  const admin = postgres(adminDatabaseUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  const url = new URL(adminDatabaseUrl);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    async drop() {
      const a = postgres(adminDatabaseUrl, { max: 1, onnotice: () => {} });
      await a.unsafe(`drop database if exists ${name} with (force)`);
      await a.end();
    },
  };
}

/**
 * Writes out what earlier parts left dirty in Postgres's buffers. Without it the checkpoint of a
 * part's writes (a soak, the peers' queues) lands in the next part and is billed to it: every
 * commit there waits on fsyncs behind the checkpoint's writes.
 */
export async function checkpoint(): Promise<void> {
  const admin = postgres(adminDatabaseUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe('checkpoint');
  } finally {
    await admin.end();
  }
}

/** Deletes every Redis key under `prefix:` (SCAN, never KEYS on a shared Redis). */
export async function deleteRedisPrefix(redis: import('ioredis').Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) deleted += await redis.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}
