import { afterAll, beforeEach, describe, expect, it } from 'bun:test';
import { Redis } from 'ioredis';
import { FairDispatcher, type StagedTask } from '@mc/server/queue/fair-dispatcher';
import { testRedisUrl } from '../support/test-database.ts';

// The dispatcher's turn-taking runs as one Redis script: these pin what it decides, against a real Redis.
const redis = new Redis(testRedisUrl, { maxRetriesPerRequest: 2 });
let prefix = '';
let fair: FairDispatcher;
const rc = 'default';
const queue = () => ({ waitKey: `${prefix}:q:wait`, prioritizedKey: `${prefix}:q:prioritized`, window: 4 });

beforeEach(() => {
  prefix = `mc-fair-test-${crypto.randomUUID()}`;
  fair = new FairDispatcher(redis, prefix);
});
afterAll(async () => {
  const keys = await redis.keys('mc-fair-test-*');
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

const task = (tenantId: string, n: number, priority: StagedTask['priority'] = 'normal'): StagedTask => ({
  executionId: `${tenantId}-e${n}`,
  tenantId,
  taskId: 't',
  runnerClass: rc,
  retries: 0,
  priority,
});
const jobId = (t: StagedTask) => `${t.executionId}.${t.taskId}`;

async function dispatchAll(window = 4): Promise<string[][]> {
  const rounds: string[][] = [];
  for (;;) {
    const added: string[] = [];
    const moved = await fair.dispatch(rc, { ...queue(), window }, async (tasks) => void added.push(...tasks.map((t) => t.executionId)));
    if (moved === 0) return rounds;
    expect(moved).toBe(added.length);
    rounds.push(added);
  }
}

describe('fair dispatcher', () => {
  it('serves tenants in turn, one task each, within the room of the window, and resumes after the tenant served last', async () => {
    await fair.stage([...[1, 2, 3, 4, 5].map((n) => task('a', n)), task('b', 1), task('c', 1), task('c', 2)], jobId);
    expect(await fair.stagedCount(rc)).toBe(8);
    const rounds = await dispatchAll(4);
    // Window 4: a, b, c, then a again; the next dispatch starts after a (the last served): c, a, a, a.
    expect(rounds).toEqual([
      ['a-e1', 'b-e1', 'c-e1', 'a-e2'],
      ['c-e2', 'a-e3', 'a-e4', 'a-e5'],
    ]);
    expect(await fair.isEmpty(rc)).toBe(true);
    expect(await fair.stagedCount(rc)).toBe(0);
  });

  it("orders a tenant's own tasks by priority, then age", async () => {
    await fair.stage([task('a', 1, 'low'), task('a', 2), task('a', 3, 'high')], jobId);
    expect(await dispatchAll(10)).toEqual([['a-e3', 'a-e2', 'a-e1']]);
  });

  it('moves nothing while the runner queue already fills the window, and only the room left otherwise', async () => {
    await fair.stage([1, 2, 3].map((n) => task('a', n)), jobId);
    await redis.rpush(queue().waitKey, 'j1', 'j2', 'j3');
    await redis.zadd(queue().prioritizedKey, 1, 'j4');
    expect(await fair.dispatch(rc, queue(), async () => {})).toBe(0);
    await redis.del(queue().prioritizedKey);
    const added: string[] = [];
    expect(await fair.dispatch(rc, queue(), async (t) => void added.push(...t.map((x) => x.executionId)))).toBe(1);
    expect(added).toEqual(['a-e1']);
    // The lock was let go each time: a full window does not leave it held.
    expect(await redis.exists(`${prefix}:fair:${rc}:lock`)).toBe(0);
  });

  it('leaves the work to the process holding the lock, and lets its own lock go when adding fails', async () => {
    await fair.stage([task('a', 1), task('a', 2)], jobId);
    await redis.set(`${prefix}:fair:${rc}:lock`, 'another-process', 'PX', 5_000);
    expect(await fair.dispatch(rc, queue(), async () => {})).toBe(0);
    expect(await fair.stagedCount(rc)).toBe(2);
    await redis.del(`${prefix}:fair:${rc}:lock`);
    await expect(fair.dispatch(rc, queue(), async () => { throw new Error('redis went away'); })).rejects.toThrow('redis went away');
    expect(await redis.exists(`${prefix}:fair:${rc}:lock`)).toBe(0);
  });

  it('still names the step when a staged entry lost its data (a crash between the two writes of a stage)', async () => {
    await fair.stage([task('a', 1)], jobId);
    await redis.del(`${prefix}:fair:${rc}:data`);
    const added: StagedTask[] = [];
    await fair.dispatch(rc, queue(), async (t) => void added.push(...t));
    expect(added).toEqual([{ executionId: 'a-e1', taskId: 't', tenantId: 'a', runnerClass: rc, retries: 0, priority: 'normal' }]);
  });

  it('returns 0 and takes no lock when nothing is staged', async () => {
    expect(await fair.dispatch(rc, queue(), async () => {})).toBe(0);
    expect(await redis.exists(`${prefix}:fair:${rc}:lock`)).toBe(0);
  });

  it('remembers briefly that it found nothing staged, and forgets it when this process stages', async () => {
    expect(fair.foundNothingStagedWithin(rc, 60_000)).toBe(false);
    await fair.dispatch(rc, queue(), async () => {});
    expect(fair.foundNothingStagedWithin(rc, 60_000)).toBe(true);
    await Bun.sleep(5);
    expect(fair.foundNothingStagedWithin(rc, 1)).toBe(false);
    await fair.stage([task('a', 1)], jobId);
    expect(fair.foundNothingStagedWithin(rc, 60_000)).toBe(false);
    // A dispatch that finds work staged does not count as finding none.
    await fair.dispatch(rc, queue(), async () => {});
    expect(fair.foundNothingStagedWithin(rc, 60_000)).toBe(false);
  });

  it('sends its scripts by SHA-1, and whole again when Redis has dropped them (restart, SCRIPT FLUSH)', async () => {
    await fair.stage([task('a', 1)], jobId);
    // Every ioredis script (BullMQ's too) falls back the same way, so flushing is harmless to them.
    await redis.script('FLUSH');
    const added: string[] = [];
    expect(await fair.dispatch(rc, queue(), async (t) => void added.push(...t.map((x) => x.executionId)))).toBe(1);
    expect(added).toEqual(['a-e1']);
    expect(await redis.exists(`${prefix}:fair:${rc}:lock`)).toBe(0);
  });
});
