import type { Redis } from 'ioredis';

/**
 * Round-robin fairness between tenants in front of a BullMQ runner queue.
 *
 * BullMQ serves a queue in order (by priority, then FIFO), so one tenant's burst of 1,000 runs
 * would make every other tenant wait behind it. Ready tasks are therefore first *staged* in a
 * sorted set per tenant (highest priority, then oldest first), and a dispatcher moves them into
 * the runner queue one tenant at a time, in turn, while the queue holds fewer than
 * `MC_DISPATCH_WINDOW` waiting jobs. A tenant's next task thus waits behind at most one window
 * plus one task per other busy tenant. Any process may dispatch; a short Redis lock keeps it to
 * one at a time per runner class, and the round-robin cursor lives in Redis.
 *
 * Crash safety: a task popped from its set but not yet added to BullMQ is lost from Redis; the
 * sweeper sees its step `queued` with neither a job nor a staged entry and stages it again.
 */

export interface StagedTask {
  executionId: string;
  tenantId: string;
  taskId: string;
  runnerClass: string;
  retries: number;
  priority: 'high' | 'normal' | 'low';
  traceparent?: string;
  workflowId?: string;
  uses?: string;
}

const priorityRank = { high: 0, normal: 1, low: 2 } as const;

// Atomic pop of one tenant's best task; drops the tenant from the ring when its set is empty.
const popScript = `
local r = redis.call('ZPOPMIN', KEYS[1])
if #r == 0 then
  redis.call('SREM', KEYS[2], ARGV[1])
  return false
end
if redis.call('ZCARD', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], ARGV[1]) end
local d = redis.call('HGET', KEYS[3], r[1])
redis.call('HDEL', KEYS[3], r[1])
return {r[1], d or ''}
`;

export class FairDispatcher {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(runnerClass: string, part: string): string {
    return `${this.prefix}:fair:${runnerClass}:${part}`;
  }

  tenantSetKey(runnerClass: string, tenantId: string): string {
    return this.key(runnerClass, `t:${tenantId}`);
  }

  /** Puts ready tasks in their tenants' sets (idempotent per job id: a second stage keeps the first's place). */
  async stage(tasks: readonly StagedTask[], jobIdOf: (t: StagedTask) => string): Promise<void> {
    if (tasks.length === 0) return;
    const multi = this.redis.multi();
    const now = Date.now();
    for (const t of tasks) {
      const jobId = jobIdOf(t);
      multi.zadd(this.tenantSetKey(t.runnerClass, t.tenantId), 'NX', priorityRank[t.priority] * 1e13 + now, jobId);
      multi.hset(this.key(t.runnerClass, 'data'), jobId, JSON.stringify(t));
      multi.sadd(this.key(t.runnerClass, 'tenants'), t.tenantId);
    }
    await multi.exec();
  }

  /** Whether a job id is staged (waiting for its turn) — the sweeper must not take it for lost. */
  async isStaged(runnerClass: string, tenantId: string, jobId: string): Promise<boolean> {
    return (await this.redis.zscore(this.tenantSetKey(runnerClass, tenantId), jobId)) !== null;
  }

  /** No tenant has a task staged for this runner class. */
  async isEmpty(runnerClass: string): Promise<boolean> {
    return (await this.redis.scard(this.key(runnerClass, 'tenants'))) === 0;
  }

  async stagedCount(runnerClass: string): Promise<number> {
    const tenants = await this.redis.smembers(this.key(runnerClass, 'tenants'));
    if (tenants.length === 0) return 0;
    const pipe = this.redis.pipeline();
    for (const t of tenants) pipe.zcard(this.tenantSetKey(runnerClass, t));
    const counts = (await pipe.exec()) ?? [];
    return counts.reduce((n, [, c]) => n + Number(c ?? 0), 0);
  }

  /**
   * Moves up to `room` staged tasks into the runner queue, one per tenant per turn, starting after
   * the tenant served last. `add` puts them on the queue. Returns how many moved; 0 when another
   * process holds the dispatch lock (it will do the work).
   */
  async dispatch(runnerClass: string, room: () => Promise<number>, add: (tasks: StagedTask[]) => Promise<void>): Promise<number> {
    const tenantsKey = this.key(runnerClass, 'tenants');
    if ((await this.redis.scard(tenantsKey)) === 0) return 0;
    const lockKey = this.key(runnerClass, 'lock');
    const token = `${process.pid}.${Math.random().toString(36).slice(2)}`;
    if ((await this.redis.set(lockKey, token, 'PX', 5_000, 'NX')) !== 'OK') return 0;
    try {
      let free = await room();
      if (free <= 0) return 0;
      const tenants = (await this.redis.smembers(tenantsKey)).sort();
      const cursor = await this.redis.get(this.key(runnerClass, 'cursor'));
      const start = cursor === null ? 0 : tenants.findIndex((t) => t > cursor);
      let order = start <= 0 ? tenants : [...tenants.slice(start), ...tenants.slice(0, start)];
      const picked: StagedTask[] = [];
      let lastServed: string | null = null;
      while (free > 0 && order.length > 0) {
        const turn = order.slice(0, free);
        const pipe = this.redis.pipeline();
        for (const t of turn) pipe.eval(popScript, 3, this.tenantSetKey(runnerClass, t), tenantsKey, this.key(runnerClass, 'data'), t);
        const results = (await pipe.exec()) ?? [];
        const still: string[] = [];
        results.forEach(([err, r], i) => {
          if (err || !Array.isArray(r)) return;
          const [jobId, data] = r as [string, string];
          const task = parseStaged(jobId, data, runnerClass, turn[i]!);
          if (task) picked.push(task);
          lastServed = turn[i]!;
          still.push(turn[i]!);
          free--;
        });
        // Tenants beyond this turn's room keep their place at the front of the next dispatch.
        if (turn.length < order.length) break;
        order = still;
      }
      if (picked.length > 0) await add(picked);
      if (lastServed !== null) await this.redis.set(this.key(runnerClass, 'cursor'), lastServed);
      return picked.length;
    } finally {
      await this.redis.eval(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`, 1, lockKey, token);
    }
  }

  async clear(runnerClass: string): Promise<void> {
    const tenants = await this.redis.smembers(this.key(runnerClass, 'tenants'));
    await this.redis.del(this.key(runnerClass, 'tenants'), this.key(runnerClass, 'data'), this.key(runnerClass, 'cursor'), ...tenants.map((t) => this.tenantSetKey(runnerClass, t)));
  }
}

/** A staged entry's data; when it was lost (a crash mid-stage), the job id still names the step. */
function parseStaged(jobId: string, data: string, runnerClass: string, tenantId: string): StagedTask | null {
  if (data) {
    try {
      return JSON.parse(data) as StagedTask;
    } catch {
      // fall through to the job id
    }
  }
  const dot = jobId.indexOf('.');
  if (dot < 0) return null;
  return { executionId: jobId.slice(0, dot), taskId: jobId.slice(dot + 1), tenantId, runnerClass, retries: 0, priority: 'normal' };
}
