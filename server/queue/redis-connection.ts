import { Redis } from 'ioredis';

/**
 * BullMQ wants two kinds of connection (its production guide): producers fail fast so an API
 * call never hangs on a Redis outage, while workers retry forever and resume by themselves.
 */
export function createRedisConnection(url: string, role: 'producer' | 'worker' | 'client'): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: role === 'worker' ? null : 1,
    enableOfflineQueue: role === 'worker',
    connectTimeout: 5_000,
    lazyConnect: false,
    retryStrategy: (times) => Math.min(times * 200, 2_000),
  });
}
