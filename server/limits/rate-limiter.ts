import { createHash, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { AppError } from '@mc/shared/errors';

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
}

export interface RateLimiterOptions {
  /** Key prefix, e.g. `mc:rl`; keys are `<prefix>:<key>`. */
  prefix: string;
  /** A Redis call slower than this counts as Redis being unavailable (default 1 s). */
  timeoutMs?: number;
}

// KEYS[1] = the window's sorted set; ARGV = limit, windowMs, a unique member for this hit.
const slidingWindowScript = `
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
if count < limit then
  redis.call('ZADD', key, now, ARGV[3])
  redis.call('PEXPIRE', key, window)
  return {1, limit - count - 1, 0}
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
local retry = window
if oldest[2] then retry = tonumber(oldest[2]) + window - now end
if retry < 1 then retry = 1 end
return {0, 0, retry}
`;
const scriptSha = createHash('sha1').update(slidingWindowScript).digest('hex');

export function createRateLimiter(redis: Redis, opts: RateLimiterOptions): RateLimiter {
  const timeoutMs = opts.timeoutMs ?? 1_000;

  async function run(key: string, rule: RateLimitRule, member: string): Promise<unknown> {
    try {
      return await redis.evalsha(scriptSha, 1, key, rule.limit, rule.windowMs, member);
    } catch (e) {
      // First use on this Redis (or after SCRIPT FLUSH / a restart): load the script and go again.
      if (!(e instanceof Error) || !e.message.startsWith('NOSCRIPT')) throw e;
      await redis.script('LOAD', slidingWindowScript);
      return await redis.evalsha(scriptSha, 1, key, rule.limit, rule.windowMs, member);
    }
  }

  return {
    async hit(key, rule) {
      if (!Number.isInteger(rule.limit) || rule.limit < 1) throw new RangeError(`rate limit must be an integer ≥ 1, not ${rule.limit}`);
      if (!Number.isInteger(rule.windowMs) || rule.windowMs < 1) throw new RangeError(`rate limit window must be an integer ≥ 1 ms, not ${rule.windowMs}`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer from Redis within ${timeoutMs} ms`)), timeoutMs);
      });
      let reply: unknown;
      try {
        reply = await Promise.race([run(`${opts.prefix}:${key}`, rule, randomUUID()), timeout]);
      } catch (e) {
        throw new AppError('UNAVAILABLE', 'the rate limiter is unavailable (Redis); retry shortly', { retryAfterSeconds: 1, cause: e });
      } finally {
        clearTimeout(timer);
      }
      if (!Array.isArray(reply) || reply.length !== 3 || !reply.every((x) => typeof x === 'number')) {
        throw new AppError('UNAVAILABLE', 'the rate limiter got an unexpected answer from Redis', { retryAfterSeconds: 1 });
      }
      const [allowed, remaining, retryAfterMs] = reply as [number, number, number];
      return { allowed: allowed === 1, remaining, retryAfterMs };
    },
  };
}
