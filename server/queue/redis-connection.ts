import { Redis } from 'ioredis';
import { ensureTracingChannelHasSubscribers } from '../observability/tracing-channel-subscribers.ts';

/**
 * BullMQ wants two kinds of connection (its production guide): producers fail fast so an API
 * call never hangs on a Redis outage, while workers retry forever and resume by themselves.
 */
/**
 * Resolves once the connection is ready, or after `timeoutMs` either way: a fail-fast connection
 * rejects commands until then, and a process should still start (and answer 503) while Redis is down.
 */
export async function settleConnection(redis: Redis, timeoutMs = 5_000): Promise<boolean> {
  if (redis.status === 'ready') return true;
  return new Promise((resolve) => {
    const timer = setTimeout(() => done(false), timeoutMs);
    const onReady = () => done(true);
    function done(ready: boolean) {
      clearTimeout(timer);
      redis.off('ready', onReady);
      resolve(ready);
    }
    redis.once('ready', onReady);
  });
}

export function createRedisConnection(url: string, role: 'producer' | 'worker' | 'client'): Redis {
  // Without it, ioredis traces every command under Bun, listened to or not.
  ensureTracingChannelHasSubscribers();
  return new Redis(url, {
    maxRetriesPerRequest: role === 'worker' ? null : 1,
    enableOfflineQueue: role === 'worker',
    connectTimeout: 5_000,
    lazyConnect: false,
    retryStrategy: (times) => Math.min(times * 200, 2_000),
  });
}
