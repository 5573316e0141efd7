import { Elysia } from 'elysia';
import type { Deps } from '../deps.ts';
import { observeQueueStall } from '../observability/metrics.ts';

const checkTimeoutMs = 2_000;

async function check(name: string, probe: () => Promise<unknown>): Promise<[string, string]> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      probe(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer in ${checkTimeoutMs} ms`)), checkTimeoutMs);
      }),
    ]);
    return [name, 'ok'];
  } catch (e) {
    return [name, e instanceof Error ? e.message : String(e)];
  } finally {
    clearTimeout(timer);
  }
}

/** Throws `stalled: <queue>, …` when a task queue has had work waiting and none active longer than MC_QUEUE_STALL_SECONDS. */
async function probeQueues(deps: Deps): Promise<void> {
  const { config } = deps;
  const stalled: string[] = [];
  for (const rc of config.WORKER_RUNNER_CLASSES) {
    const q = deps.queues.queueFor(rc);
    const c = await q.getJobCounts('wait', 'prioritized', 'active');
    if (observeQueueStall(config.MC_QUEUE_PREFIX, q.name, { waiting: (c.wait ?? 0) + (c.prioritized ?? 0), active: c.active ?? 0 }, config.MC_QUEUE_STALL_SECONDS)) stalled.push(q.name);
  }
  if (stalled.length > 0) throw new Error(`stalled: ${stalled.join(', ')}`);
}

/**
 * `/healthz`: the process is up. `/readyz`: it can serve — database, Redis and object store all
 * answer. The `queues` check reports workers that are connected but not consuming; it marks the
 * answer `degraded` but does not make it 503: the server can still accept work, and taking every
 * server out of rotation because the workers are stuck would turn a backlog into an outage.
 */
export function healthRoutes(deps: Deps) {
  return new Elysia({ name: 'mc-health' })
    .get('/healthz', () => ({ status: 'ok' }))
    .get('/readyz', async ({ set }) => {
      const checks = Object.fromEntries(
        await Promise.all([
          check('database', () => deps.db.execute('select 1')),
          check('redis', () => deps.redis.ping()),
          check('objectStore', () => deps.objectStore.ping()),
          check('queues', () => probeQueues(deps)),
        ]),
      );
      const ready = Object.entries(checks).every(([name, v]) => name === 'queues' || v === 'ok');
      set.status = ready ? 200 : 503;
      if (!ready) set.headers['retry-after'] = '5';
      return { status: !ready ? 'unavailable' : checks.queues === 'ok' ? 'ready' : 'degraded', checks };
    });
}
