import { afterAll, describe, expect, it } from 'bun:test';
import { Redis } from 'ioredis';
import { TaskQueues, type ReadyTask } from '@mc/server/queue/task-queues';
import { testRedisUrl } from '../support/test-database.ts';

// server/queue/task-queues.ts: enqueues that come together go out together, as one caller's list
// would, and each caller settles with its group. Real Redis, a key prefix of this test's own.
const prefixes: string[] = [];
const redis = new Redis(testRedisUrl, { maxRetriesPerRequest: 1 });
afterAll(async () => {
  for (const p of prefixes) {
    const keys = await redis.keys(`${p}:*`);
    if (keys.length > 0) await redis.del(...keys);
  }
  redis.disconnect();
});

function queues(connection: Redis = redis, window = 64) {
  const prefix = `mc-enqueue-test-${crypto.randomUUID()}`;
  prefixes.push(prefix);
  return new TaskQueues(connection, prefix, 100, window);
}
const ready = (n: number): ReadyTask => ({ executionId: crypto.randomUUID(), tenantId: `tenant-${n % 3}`, taskId: 'a', runnerClass: 'default', retries: 0, priority: 'normal' });

describe('task enqueue groups', () => {
  it('puts every task of callers that come together on the queue, in fewer adds than callers', async () => {
    const q = queues();
    const queue = q.queueFor('default');
    let adds = 0;
    const addBulk = queue.addBulk.bind(queue);
    queue.addBulk = ((jobs: Parameters<typeof addBulk>[0]) => (adds++, addBulk(jobs))) as typeof queue.addBulk;
    const tasks = Array.from({ length: 20 }, (_, i) => ready(i));
    await Promise.all(tasks.map((t, i) => q.enqueueTasks([t], i % 2 === 0 ? `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01` : undefined)));
    const jobs = await queue.getJobs(['wait', 'prioritized']);
    expect(jobs.map((j) => j.data.executionId).sort()).toEqual(tasks.map((t) => t.executionId).sort());
    // Each task keeps its own caller's trace context.
    for (const [i, t] of tasks.entries()) expect(jobs.find((j) => j.data.executionId === t.executionId)!.data.traceparent !== undefined).toBe(i % 2 === 0);
    expect(adds).toBeGreaterThan(0);
    expect(adds).toBeLessThan(tasks.length);
  });

  it('stages a group that does not fit the window, and dispatches as much as fits', async () => {
    const q = queues(redis, 4);
    await Promise.all(Array.from({ length: 10 }, (_, i) => q.enqueueTasks([ready(i)])));
    const counts = await q.queueFor('default').getJobCounts('wait', 'prioritized');
    expect((counts.wait ?? 0) + (counts.prioritized ?? 0)).toBe(4);
    expect((counts.wait ?? 0) + (counts.prioritized ?? 0) + (await q.fair.stagedCount('default'))).toBe(10);
  });

  it('gives every caller of a group the error when Redis refuses it', async () => {
    const failing = new Redis(testRedisUrl, { maxRetriesPerRequest: 0, enableOfflineQueue: false, lazyConnect: true });
    const q = queues(failing);
    // BullMQ reports the refused connection as an event too; the callers' rejections are what is checked.
    q.queueFor('default').on('error', () => undefined);
    const results = await Promise.allSettled([1, 2, 3].map((i) => q.enqueueTasks([ready(i)])));
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    failing.disconnect();
  });
});
