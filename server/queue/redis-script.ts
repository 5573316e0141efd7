import type { Redis } from 'ioredis';

/** A Lua script with its SHA-1: sent by the hash (`EVALSHA`), its text only when Redis has not cached it. */
export interface RedisScript {
  text: string;
  sha: string;
}

export function redisScript(text: string): RedisScript {
  return { text, sha: new Bun.CryptoHasher('sha1').update(text).digest('hex') };
}

/**
 * Runs `script` by its hash; when Redis answers NOSCRIPT (restarted, or SCRIPT FLUSH), sends it
 * whole, which caches it again. Scripts that ran with `EVAL` sent their text (kilobytes) with
 * every call, and Redis hashed it each time.
 */
export async function runScript(redis: Redis, script: RedisScript, keys: number, ...args: (string | number)[]): Promise<unknown> {
  try {
    return await redis.evalsha(script.sha, keys, ...args);
  } catch (e) {
    if (!String(e).includes('NOSCRIPT')) throw e;
    return redis.eval(script.text, keys, ...args);
  }
}
