import type { Redis } from 'ioredis';
import { redisScript, runScript } from './redis-script.ts';

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

const dispatchLockMs = 5_000;

/**
 * The whole turn-taking in one atomic step (it was seven of a dispatch's nine round trips): take
 * the dispatch lock (held until the caller has added the tasks), count the room left in the runner queue's window
 * (BullMQ's `wait` list and `prioritized` set), then pop one task per tenant per turn, starting
 * after the tenant served last, until the room is used; a tenant whose set empties leaves the
 * ring. Returns [tenant, job id, data] triples; 0 when nothing is staged, false when the lock is held.
 * Tenant sets are reached by name beyond the declared keys (one Redis, not Cluster); tenant ids
 * sort as bytes here and as UTF-16 units in JS before — the same order for the ASCII ids MC makes.
 */
const dispatchScript = redisScript(`
if redis.call('SCARD', KEYS[1]) == 0 then return 0 end
if not redis.call('SET', KEYS[4], ARGV[2], 'PX', ARGV[3], 'NX') then return false end
local free = tonumber(ARGV[1]) - redis.call('LLEN', KEYS[5]) - redis.call('ZCARD', KEYS[6])
if free <= 0 then
  redis.call('DEL', KEYS[4])
  return {}
end
local tenants = redis.call('SMEMBERS', KEYS[1])
table.sort(tenants)
local order = tenants
local cursor = redis.call('GET', KEYS[3])
if cursor then
  local start = 0
  for i = 1, #tenants do
    if tenants[i] > cursor then
      start = i
      break
    end
  end
  if start > 1 then
    order = {}
    for i = start, #tenants do order[#order + 1] = tenants[i] end
    for i = 1, start - 1 do order[#order + 1] = tenants[i] end
  end
end
local out = {}
local last = nil
while free > 0 and #order > 0 do
  local turn = math.min(free, #order)
  local still = {}
  for i = 1, turn do
    local t = order[i]
    local set = ARGV[4] .. t
    local r = redis.call('ZPOPMIN', set)
    if #r == 0 then
      redis.call('SREM', KEYS[1], t)
    else
      if redis.call('ZCARD', set) == 0 then redis.call('SREM', KEYS[1], t) end
      local d = redis.call('HGET', KEYS[2], r[1])
      redis.call('HDEL', KEYS[2], r[1])
      out[#out + 1] = t
      out[#out + 1] = r[1]
      out[#out + 1] = d or ''
      last = t
      still[#still + 1] = t
      free = free - 1
    end
  end
  -- Tenants beyond this turn's room keep their place at the front of the next dispatch.
  if turn < #order then break end
  order = still
end
if last then redis.call('SET', KEYS[3], last) end
if #out == 0 then redis.call('DEL', KEYS[4]) end
return out
`);

const unlockScript = redisScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`);

export class FairDispatcher {
  /** When a dispatch of this process last found nothing staged for the runner class (see `foundNothingStagedWithin`). */
  private readonly nothingStagedAt = new Map<string, number>();

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
    for (const t of tasks) this.nothingStagedAt.delete(t.runnerClass);
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

  /**
   * This process's last dispatch for the runner class, less than `ms` ago, found nothing staged
   * (and this process staged nothing since). A task another process stages meanwhile is
   * dispatched by that process; only when it found no room does it wait for a refill.
   */
  foundNothingStagedWithin(runnerClass: string, ms: number): boolean {
    const at = this.nothingStagedAt.get(runnerClass);
    return at !== undefined && Date.now() - at < ms;
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
   * Moves up to the window's room of staged tasks into the runner queue, one per tenant per turn,
   * starting after the tenant served last. `queue` names the runner queue's `wait` list and
   * `prioritized` set (BullMQ's keys): the room is counted, the dispatch lock taken and the tasks
   * popped in one script, one round trip; `add` then puts them on the queue and the lock is let go.
   * Returns how many moved; 0 when another process holds the dispatch lock (it will do the work).
   */
  async dispatch(runnerClass: string, queue: { waitKey: string; prioritizedKey: string; window: number }, add: (tasks: StagedTask[]) => Promise<void>): Promise<number> {
    const lockKey = this.key(runnerClass, 'lock');
    const token = `${process.pid}.${Math.random().toString(36).slice(2)}`;
    const popped = (await runScript(
      this.redis,
      dispatchScript,
      6,
      this.key(runnerClass, 'tenants'),
      this.key(runnerClass, 'data'),
      this.key(runnerClass, 'cursor'),
      lockKey,
      queue.waitKey,
      queue.prioritizedKey,
      String(queue.window),
      token,
      String(dispatchLockMs),
      this.tenantSetKey(runnerClass, ''),
    )) as string[] | 0 | null;
    if (popped === 0) {
      this.nothingStagedAt.set(runnerClass, Date.now());
      return 0;
    }
    this.nothingStagedAt.delete(runnerClass);
    // Another dispatcher holds the lock, or no room (the script let its lock go).
    if (!popped || popped.length === 0) return 0;
    try {
      const picked: StagedTask[] = [];
      for (let i = 0; i < popped.length; i += 3) {
        const task = parseStaged(popped[i + 1]!, popped[i + 2]!, runnerClass, popped[i]!);
        if (task) picked.push(task);
      }
      if (picked.length > 0) await add(picked);
      return picked.length;
    } finally {
      await runScript(this.redis, unlockScript, 1, lockKey, token);
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
