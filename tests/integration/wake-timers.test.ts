import { afterAll, describe, expect, it } from 'bun:test';
import { Queue, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { WakeTimers } from '../../worker/wake-timers.ts';
import { testRedisUrl } from '../support/test-database.ts';

// No BullMQ Worker runs on this queue, so nothing but the timer can move a delayed job to `wait`:
// a job that stays `delayed` past its due time shows the timer did not fire (or was not set).
const prefix = `mc-wake-test-${crypto.randomUUID()}`;
const connection = new Redis(testRedisUrl, { maxRetriesPerRequest: null });
const queue = new Queue('wake', { connection, prefix });

afterAll(async () => {
  await queue.close();
  const keys = await connection.keys(`${prefix}:*`);
  if (keys.length > 0) await connection.del(...keys);
  connection.disconnect();
});

async function delayedJob(delayMs: number): Promise<{ job: Job; dueAt: number }> {
  const dueAt = Date.now() + delayMs;
  const job = await queue.add('task', {}, { delay: delayMs });
  return { job, dueAt };
}

async function stateAfter(job: Job, ms: number): Promise<string> {
  await Bun.sleep(ms);
  return job.getState();
}

async function waitForState(job: Job, state: string, withinMs = 5_000): Promise<string> {
  const deadline = Date.now() + withinMs;
  let now = await job.getState();
  while (now !== state && Date.now() < deadline) {
    await Bun.sleep(10);
    now = await job.getState();
  }
  return now;
}

describe('wake timers for suspended steps', () => {
  it('promote a delayed job when it is due, not before', async () => {
    const wakes = new WakeTimers();
    const { job, dueAt } = await delayedJob(150);
    let promotedAt = 0;
    wakes.schedule(dueAt, async () => {
      promotedAt = Date.now();
      await job.promote();
    });
    expect(wakes.pending).toBe(1);
    expect(await waitForState(job, 'waiting')).toBe('waiting');
    // Ordering, not speed: the promote never runs before the time the step asked for.
    expect(promotedAt).toBeGreaterThanOrEqual(dueAt);
    expect(wakes.pending).toBe(0);
  });

  it('leave a wake beyond the horizon to Redis alone', async () => {
    const wakes = new WakeTimers(1_000);
    const { job, dueAt } = await delayedJob(2_000);
    wakes.schedule(dueAt, () => job.promote());
    expect(wakes.pending).toBe(0);
    expect(await job.getState()).toBe('delayed');
    await job.remove();
  });

  it('set no wake once cleared (shutdown): the job stays delayed for the next worker', async () => {
    const wakes = new WakeTimers();
    const { job, dueAt } = await delayedJob(30);
    wakes.schedule(dueAt, () => job.promote());
    wakes.clear();
    expect(wakes.pending).toBe(0);
    expect(await stateAfter(job, 200)).toBe('delayed');
    await job.remove();
  });

  it('swallow the promote of a job that was woken already', async () => {
    const wakes = new WakeTimers();
    const { job, dueAt } = await delayedJob(40);
    await job.promote();
    let attempted = false;
    wakes.schedule(dueAt, async () => {
      attempted = true;
      await job.promote(); // throws: the job is not delayed any more
    });
    const deadline = Date.now() + 5_000;
    while ((!attempted || wakes.pending > 0) && Date.now() < deadline) await Bun.sleep(10);
    expect(attempted).toBe(true);
    expect(await job.getState()).toBe('waiting');
  });
});
