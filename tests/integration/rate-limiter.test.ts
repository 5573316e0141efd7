import { afterAll, afterEach, beforeAll, describe, expect, it } from 'bun:test';
import { Redis } from 'ioredis';
import { isAppError } from '@mc/shared/errors';
import { createRateLimiter, type RateLimiter } from '@mc/server/limits/rate-limiter';
import { createRedisConnection } from '@mc/server/queue/redis-connection';
import { testRedisUrl, uniqueSuffix } from '../support/test-database.ts';

let redis: Redis;
const prefixes: string[] = [];

/** An API-style connection (fails fast, no offline queue), once it is ready. */
async function connect(): Promise<Redis> {
  const r = createRedisConnection(testRedisUrl, 'client');
  if (r.status !== 'ready') await new Promise((resolve) => r.once('ready', resolve));
  return r;
}

beforeAll(async () => {
  redis = await connect();
});
afterEach(async () => {
  for (const p of prefixes.splice(0)) {
    const keys = await redis.keys(`${p}:*`);
    if (keys.length > 0) await redis.del(...keys);
  }
});
afterAll(async () => {
  await redis.quit();
});

/** A limiter with a key prefix no other test (or run) shares. */
function limiter(): RateLimiter {
  const prefix = `mct-rl-${uniqueSuffix()}`;
  prefixes.push(prefix);
  return createRateLimiter(redis, { prefix });
}

describe('rate limiter (sliding window in Redis)', () => {
  it('allows exactly `limit` hits within a window, counting down `remaining`', async () => {
    const rl = limiter();
    const results = [];
    for (let i = 0; i < 7; i++) results.push(await rl.hit('tenant-a', { limit: 5, windowMs: 10_000 }));
    expect(results.map((r) => r.allowed)).toEqual([true, true, true, true, true, false, false]);
    expect(results.map((r) => r.remaining)).toEqual([4, 3, 2, 1, 0, 0, 0]);
    expect(results.slice(0, 5).every((r) => r.retryAfterMs === 0)).toBe(true);
  });

  it('gives a sane retryAfter, and allows again once the window has slid past the oldest hit', async () => {
    const rl = limiter();
    const rule = { limit: 3, windowMs: 400 };
    for (let i = 0; i < 3; i++) expect((await rl.hit('k', rule)).allowed).toBe(true);
    const denied = await rl.hit('k', rule);
    expect(denied.allowed).toBe(false);
    expect(denied.retryAfterMs).toBeGreaterThan(0);
    expect(denied.retryAfterMs).toBeLessThanOrEqual(rule.windowMs);
    await Bun.sleep(denied.retryAfterMs + 20);
    const again = await rl.hit('k', rule);
    expect(again.allowed).toBe(true);
  });

  it('slides rather than resets: hits spread over the window keep counting', async () => {
    const rl = limiter();
    const rule = { limit: 2, windowMs: 600 };
    expect((await rl.hit('k', rule)).allowed).toBe(true);
    await Bun.sleep(350);
    expect((await rl.hit('k', rule)).allowed).toBe(true);
    await Bun.sleep(350); // the first hit has left the window, the second has not
    expect((await rl.hit('k', rule)).allowed).toBe(true);
    const denied = await rl.hit('k', rule);
    expect(denied.allowed).toBe(false);
    expect(denied.retryAfterMs).toBeLessThanOrEqual(300);
  });

  it('keeps keys independent: a tenant bursting to 10x its limit is refused while another is allowed', async () => {
    const rl = limiter();
    const rule = { limit: 10, windowMs: 10_000 };
    const burst = await Promise.all(Array.from({ length: 100 }, () => rl.hit('tenant-noisy', rule)));
    expect(burst.filter((r) => r.allowed)).toHaveLength(10);
    expect(burst.filter((r) => !r.allowed).every((r) => r.retryAfterMs > 0 && r.retryAfterMs <= rule.windowMs)).toBe(true);
    const quiet = await rl.hit('tenant-quiet', rule);
    expect(quiet).toEqual({ allowed: true, remaining: 9, retryAfterMs: 0 });
  });

  it('counts exactly under concurrency: 200 concurrent hits with limit 50 allow exactly 50', async () => {
    const rl = limiter();
    // Separate connections, as separate API processes would have.
    const others = await Promise.all(Array.from({ length: 4 }, connect));
    try {
      const prefix = prefixes[prefixes.length - 1]!;
      const limiters = [rl, ...others.map((r) => createRateLimiter(r, { prefix }))];
      const results = await Promise.all(Array.from({ length: 200 }, (_, i) => limiters[i % limiters.length]!.hit('shared', { limit: 50, windowMs: 10_000 })));
      expect(results.filter((r) => r.allowed)).toHaveLength(50);
      expect(await redis.zcard(`${prefix}:shared`)).toBe(50);
    } finally {
      await Promise.all(others.map((r) => r.quit()));
    }
  });

  it('checks several windows in one call, all or nothing: a hit one window refuses is counted by none', async () => {
    const rl = limiter();
    const prefix = prefixes[prefixes.length - 1]!;
    const hits = [
      { key: 'caller:t1', rule: { limit: 5, windowMs: 10_000 } },
      { key: 'tenant:a', rule: { limit: 2, windowMs: 10_000 } },
    ];
    const first = await rl.hitAll(hits);
    expect(first).toEqual([
      { allowed: true, remaining: 4, retryAfterMs: 0 },
      { allowed: true, remaining: 1, retryAfterMs: 0 },
    ]);
    await rl.hitAll(hits);
    const refused = await rl.hitAll(hits);
    // The tenant's window is full; the caller's had room, but the refused hit is not charged to it.
    expect(refused[0]).toEqual({ allowed: true, remaining: 3, retryAfterMs: 0 });
    expect(refused[1]!.allowed).toBe(false);
    expect(refused[1]!.retryAfterMs).toBeGreaterThan(0);
    expect(refused[1]!.retryAfterMs).toBeLessThanOrEqual(10_000);
    expect(await redis.zcard(`${prefix}:caller:t1`)).toBe(2);
    expect(await redis.zcard(`${prefix}:tenant:a`)).toBe(2);
    // Another tenant under the same caller still gets in, and is counted in both of its windows.
    const other = await rl.hitAll([hits[0]!, { key: 'tenant:b', rule: { limit: 2, windowMs: 10_000 } }]);
    expect(other.map((r) => r.allowed)).toEqual([true, true]);
    expect(await redis.zcard(`${prefix}:caller:t1`)).toBe(3);
  });

  it('loads its script again after Redis lost it (SCRIPT FLUSH)', async () => {
    const rl = limiter();
    expect((await rl.hit('flushed', { limit: 3, windowMs: 10_000 })).allowed).toBe(true);
    await redis.script('FLUSH');
    expect(await rl.hit('flushed', { limit: 3, windowMs: 10_000 })).toEqual({ allowed: true, remaining: 1, retryAfterMs: 0 });
  });

  it('expires its keys a window after the last hit', async () => {
    const rl = limiter();
    await rl.hit('ttl', { limit: 5, windowMs: 5_000 });
    const ttl = await redis.pttl(`${prefixes[prefixes.length - 1]}:ttl`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(5_000);
  });

  it('fails closed with UNAVAILABLE when Redis cannot be reached', async () => {
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    const down = createRedisConnection('redis://127.0.0.1:1', 'client');
    down.on('error', () => {}); // connection errors are expected here; the limiter reports them
    try {
      const err = await createRateLimiter(down, { prefix: 'mct-rl-down', timeoutMs: 500 }).hit('k', { limit: 5, windowMs: 1_000 }).catch((e: unknown) => e);
      expect(isAppError(err) && err.code === 'UNAVAILABLE').toBe(true);
    } finally {
      down.disconnect();
    }
  });

  it('refuses nonsense rules', async () => {
    const rl = limiter();
    await expect(rl.hit('k', { limit: 0, windowMs: 1_000 })).rejects.toThrow(RangeError);
    await expect(rl.hit('k', { limit: 1.5, windowMs: 1_000 })).rejects.toThrow(RangeError);
    await expect(rl.hit('k', { limit: 1, windowMs: 0 })).rejects.toThrow(RangeError);
    await expect(rl.hitAll([{ key: 'a', rule: { limit: 1, windowMs: 1_000 } }, { key: 'b', rule: { limit: -1, windowMs: 1_000 } }])).rejects.toThrow(RangeError);
  });
});
