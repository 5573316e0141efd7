import { Queue } from 'bullmq';
import type { Deps } from '../deps.ts';
import { outboxLag } from '../audit/outbox-relay.ts';
import { receiptBacklog } from '../receipts/receipt-backlog.ts';
import { observeQueueStall, outboxOldestAgeSeconds, outboxPendingEvents, queueJobs, receiptsPending, receiptsPendingOldestAgeSeconds, registry } from './metrics.ts';

const jobStates = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'completed', 'failed'] as const;
/** A scrape must answer even while Redis or Postgres is down: each source gets this long. */
const sourceTimeoutMs = 2_000;

function withTimeout<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} timed out`)), sourceTimeoutMs)))]).finally(() => clearTimeout(timer));
}

async function collectQueueDepth(deps: Pick<Deps, 'queues' | 'config'>, runnerClasses: readonly string[]): Promise<void> {
  const queues: Queue[] = [...runnerClasses.map((rc) => deps.queues.queueFor(rc)), deps.queues.receipts()];
  const counts = await withTimeout(Promise.all(queues.map((q) => q.getJobCounts(...jobStates))), 'queue depth');
  queueJobs.reset();
  queues.forEach((q, i) => {
    for (const state of jobStates) queueJobs.set({ queue: q.name, state }, counts[i]![state] ?? 0);
    const c = counts[i]!;
    observeQueueStall(deps.config.MC_QUEUE_PREFIX, q.name, { waiting: (c.waiting ?? 0) + (c.prioritized ?? 0), active: c.active ?? 0 }, deps.config.MC_QUEUE_STALL_SECONDS);
  });
}

async function collectOutboxLag(deps: Pick<Deps, 'db'>): Promise<void> {
  const lag = await withTimeout(outboxLag(deps.db), 'outbox lag');
  outboxPendingEvents.set(lag.pending);
  outboxOldestAgeSeconds.set(lag.oldestAgeSeconds);
}

async function collectReceiptBacklog(deps: Pick<Deps, 'db'>): Promise<void> {
  const backlog = await withTimeout(receiptBacklog(deps.db), 'receipt backlog');
  receiptsPending.set(backlog.pending);
  receiptsPendingOldestAgeSeconds.set(backlog.oldestAgeSeconds);
}

/**
 * The `/metrics` body of a process (server and worker alike): the gauges read from Redis and
 * Postgres are refreshed first, so they are as of the scrape. A source that fails keeps its last
 * values (and is logged at debug), so a scrape still answers during an outage.
 */
export async function renderMetrics(deps: Pick<Deps, 'queues' | 'config' | 'db' | 'logger'>, runnerClasses: readonly string[] = deps.config.WORKER_RUNNER_CLASSES): Promise<string> {
  const results = await Promise.allSettled([collectQueueDepth(deps, runnerClasses), collectOutboxLag(deps), collectReceiptBacklog(deps)]);
  for (const r of results) if (r.status === 'rejected') deps.logger.debug({ err: r.reason }, 'a metrics source failed during scrape');
  return registry.metrics();
}

export const metricsContentType = registry.contentType;
