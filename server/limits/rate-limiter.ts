import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { AppError } from '@mc/shared/errors';
import { redisScript, runScript } from '../queue/redis-script.ts';

/**
 * A sliding-window rate limiter in Redis (threat model, DoS: "quotas + rate limits"): a sorted set
 * per key holds one member per allowed hit, scored by the time of the hit; a hit is allowed when
 * fewer than `limit` members are younger than `windowMs`. The whole check-and-record is one Lua
 * script (run by EVALSHA), so concurrent hits from any number of API processes are counted exactly,
 * and time comes from Redis (`TIME`), so those processes need not agree on a clock.
 *
 * Memory is O(limit) per active key and keys expire a window after their last hit: right for API
 * limits of up to some thousands per window. Refused hits are not recorded, so a client that keeps
 * hammering while limited is let in again as soon as its oldest allowed hit leaves the window.
 *
 * Fails CLOSED: when Redis errors or does not answer within `timeoutMs`, `hit` throws
 * `AppError('UNAVAILABLE')` (HTTP 503 with Retry-After through the one error mapper) rather than
 * letting traffic through unmetered. An API that cannot reach Redis cannot enqueue work either,
 * so failing open would buy nothing but an unmetered path to the database.
 */
export interface RateLimitRule {
  /** Hits allowed per window (integer ≥ 1). */
  limit: number;
  windowMs: number;
}

export interface RateLimitResult {
  allowed: boolean;
  /** Hits left in the current window after this one. */
  remaining: number;
  /** 0 when allowed; otherwise when the oldest counted hit leaves the window (a retry then succeeds, barring others). */
  retryAfterMs: number;
}

export interface RateLimiter {
  hit(key: string, rule: RateLimitRule): Promise<RateLimitResult>;
  /**
   * Several windows checked together, all or nothing, in one script call: the hit is recorded in
   * every window only when each has room, so a request refused by one limit is counted by none.
   * The results are in the order of `hits`.
   */
  hitAll(hits: readonly { key: string; rule: RateLimitRule }[]): Promise<RateLimitResult[]>;
}

export interface RateLimiterOptions {
  /** Key prefix, e.g. `mc:rl`; keys are `<prefix>:<key>`. */
  prefix: string;
  /** A Redis call slower than this counts as Redis being unavailable (default 1 s). */
  timeoutMs?: number;
}

// KEYS = the windows' sorted sets; ARGV = a unique member for this hit, then limit and windowMs
// for each key in turn. Returns allowed, remaining and retry-after ms for each key, flattened.
const slidingWindowScript = redisScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local counts, out, allowed = {}, {}, true
for i, key in ipairs(KEYS) do
  local window = tonumber(ARGV[i * 2 + 1])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  counts[i] = redis.call('ZCARD', key)
  if counts[i] >= tonumber(ARGV[i * 2]) then allowed = false end
end
for i, key in ipairs(KEYS) do
  local limit, window = tonumber(ARGV[i * 2]), tonumber(ARGV[i * 2 + 1])
  if allowed then
    redis.call('ZADD', key, now, ARGV[1])
    redis.call('PEXPIRE', key, window)
    table.insert(out, 1); table.insert(out, limit - counts[i] - 1); table.insert(out, 0)
  elseif counts[i] >= limit then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    local retry = window
    if oldest[2] then retry = tonumber(oldest[2]) + window - now end
    if retry < 1 then retry = 1 end
    table.insert(out, 0); table.insert(out, 0); table.insert(out, retry)
  else
    -- This window had room; another refused the hit, so it is not counted here either.
    table.insert(out, 1); table.insert(out, limit - counts[i]); table.insert(out, 0)
  end
end
return out
`);

export function createRateLimiter(redis: Redis, opts: RateLimiterOptions): RateLimiter {
  const timeoutMs = opts.timeoutMs ?? 1_000;

  async function hitAll(hits: readonly { key: string; rule: RateLimitRule }[]): Promise<RateLimitResult[]> {
    if (hits.length === 0) return [];
    for (const { rule } of hits) {
      if (!Number.isInteger(rule.limit) || rule.limit < 1) throw new RangeError(`rate limit must be an integer ≥ 1, not ${rule.limit}`);
      if (!Number.isInteger(rule.windowMs) || rule.windowMs < 1) throw new RangeError(`rate limit window must be an integer ≥ 1 ms, not ${rule.windowMs}`);
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer from Redis within ${timeoutMs} ms`)), timeoutMs);
    });
    const keys = hits.map((h) => `${opts.prefix}:${h.key}`);
    const args = [randomUUID(), ...hits.flatMap((h) => [h.rule.limit, h.rule.windowMs])];
    let reply: unknown;
    try {
      reply = await Promise.race([runScript(redis, slidingWindowScript, keys.length, ...keys, ...args), timeout]);
    } catch (e) {
      throw new AppError('UNAVAILABLE', 'the rate limiter is unavailable (Redis); retry shortly', { retryAfterSeconds: 1, cause: e });
    } finally {
      clearTimeout(timer);
    }
    if (!Array.isArray(reply) || reply.length !== hits.length * 3 || !reply.every((x) => typeof x === 'number')) {
      throw new AppError('UNAVAILABLE', 'the rate limiter got an unexpected answer from Redis', { retryAfterSeconds: 1 });
    }
    const n = reply as number[];
    return hits.map((_, i) => ({ allowed: n[i * 3] === 1, remaining: n[i * 3 + 1]!, retryAfterMs: n[i * 3 + 2]! }));
  }

  return {
    hitAll,
    async hit(key, rule) {
      const [result] = await hitAll([{ key, rule }]);
      return result!;
    },
  };
}
