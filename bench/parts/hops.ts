import { Redis } from 'ioredis';
import postgres from 'postgres';
import { taskJobId, taskQueueName } from '@mc/server/queue/task-queues';
import { closedLoop, openLoop } from '../load.ts';
import { startMcStack, type McStack } from '../mc-stack.ts';
import { benchRedisUrl } from '../pg-admin.ts';
import { ReceiptTracker, waitForReceipts } from '../receipts-wait.ts';
import { startSecondsProbe } from '../seconds.ts';
import { medianPercentiles, percentilesOf, type Percentiles } from '../stats.ts';
import { oneTask } from '../workloads.ts';
import type { BenchSettings } from '../settings.ts';

/**
 * Part 6, only with `--only hops`: where a 1-task execution's publish→start goes at the floor's
 * 250/s, hop by hop, and how its p95 moves second by second. Postgres gives the ends
 * (`executions.created_at`, the start's transaction; `started_at`, the claim's statement), BullMQ's
 * event stream the middle (the stream entry ids of a job's `added` and `active` events are Redis's
 * clock in ms). Each second is marked when the vacuum stand-in (or an autovacuum) was vacuuming or
 * analyzing MC's tables, sampled from `pg_stat_activity` every 100 ms.
 */
export type Hop = 'createdToAdded' | 'addedToActive' | 'activeToClaim' | 'publishToStart';

export interface HopsResult {
  rate: number;
  runs: number;
  /** Median across runs of each run's percentiles, ms. */
  hops: Record<Hop, Percentiles>;
  /** Per run: p95 publish→start of each second, with `V` (vacuum) / `A` (analyze) when maintenance ran in it. */
  seconds: string[][];
  /** Executions without both job events read from the stream, left out of the three hops (not of publish→start). */
  unmatched: number;
}

const rate = 250;

export async function runHopsPart(s: BenchSettings, log: (m: string) => void): Promise<HopsResult> {
  const stack = await startMcStack({ label: 'hops', workerConcurrency: s.workerConcurrency, poolSize: s.poolSize });
  const redis = new Redis(benchRedisUrl, { maxRetriesPerRequest: 3 });
  const monitor = postgres(stack.database.url, { max: 1, onnotice: () => {} });
  try {
    const wf = await stack.publish(oneTask);
    await waitForReceipts(stack.sql, await Promise.all(Array.from({ length: 20 }, () => stack.start(wf))));
    await stack.maintainNow();
    // Under load first, as in part 1: JIT warm, tables and their dead rows grown.
    const preload = new ReceiptTracker(stack.sql);
    await closedLoop({ concurrency: s.clientConcurrency, maxInFlight: s.maxInFlight, warmupMs: 0, windowMs: s.quick ? 5_000 : 20_000, windows: 1, submit: async () => preload.track(await stack.start(wf)), completed: () => preload.completed() });

    const runs: Record<Hop, Percentiles>[] = [];
    const seconds: string[][] = [];
    let unmatched = 0;
    for (let run = 0; run < s.runs; run++) {
      const probe = startSecondsProbe(monitor);
      const events = collectJobEvents(redis, stack);
      const r = await openLoop(rate, s.quick ? 5_000 : 12_000, () => stack.start(wf));
      await waitForReceipts(stack.sql, r.ids, 120_000);
      const jobs = await events.stop();
      const rows = await stack.sql<{ id: string; created: number; started: number }[]>`
        select id::text, extract(epoch from created_at) * 1000 as created, extract(epoch from started_at) * 1000 as started
        from executions where id = any(${`{${r.ids.join(',')}}`}::uuid[]) and started_at is not null`;
      const hops: Record<Hop, number[]> = { createdToAdded: [], addedToActive: [], activeToClaim: [], publishToStart: [] };
      for (const row of rows) {
        const created = Number(row.created);
        const started = Number(row.started);
        hops.publishToStart.push(started - created);
        const job = jobs.get(taskJobId(row.id, oneTask.tasks[0]!.id));
        if (job?.added === undefined || job.active === undefined) {
          unmatched++;
          continue;
        }
        hops.createdToAdded.push(job.added - created);
        hops.addedToActive.push(job.active - job.added);
        hops.activeToClaim.push(started - job.active);
      }
      runs.push(Object.fromEntries(Object.entries(hops).map(([k, v]) => [k, percentilesOf(v)])) as Record<Hop, Percentiles>);
      const line = await probe.stop(stack.sql, r.ids);
      seconds.push(line);
      log(`hops @${rate}/s run ${run + 1}: publish→start p95 ${Math.round(runs.at(-1)!.publishToStart.p95)} ms; per second ${line.join(' ')}`);
    }
    const hops = Object.fromEntries((['createdToAdded', 'addedToActive', 'activeToClaim', 'publishToStart'] as const).map((h) => [h, medianPercentiles(runs.map((r) => r[h]))])) as Record<Hop, Percentiles>;
    return { rate, runs: runs.length, hops, seconds, unmatched };
  } finally {
    await monitor.end({ timeout: 5 });
    redis.disconnect();
    await stack.stop();
  }
}

/**
 * Each job's first `added` (or `waiting`) and first `active` time from the task queue's event
 * stream, read as it grows (every 200 ms): BullMQ trims the stream near 10,000 entries, fewer
 * than a 12-s run at 250/s writes (~4 per job).
 */
function collectJobEvents(redis: Redis, stack: McStack): { stop(): Promise<Map<string, { added?: number; active?: number }>> } {
  const key = `${stack.queuePrefix}:${taskQueueName('default')}:events`;
  const out = new Map<string, { added?: number; active?: number }>();
  let after = `${Date.now()}-0`;
  const read = async () => {
    const entries = (await redis.xrange(key, `(${after}`, '+')) as [string, string[]][];
    for (const [id, fields] of entries) {
      after = id;
      const f: Record<string, string> = {};
      for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
      if (!f.jobId) continue;
      const at = Number(id.split('-')[0]);
      const job = out.get(f.jobId) ?? {};
      if ((f.event === 'added' || f.event === 'waiting') && job.added === undefined) job.added = at;
      if (f.event === 'active' && job.active === undefined) job.active = at;
      out.set(f.jobId, job);
    }
  };
  let running = true;
  const loop = (async () => {
    while (running) {
      await read();
      await Bun.sleep(200);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      await read();
      return out;
    },
  };
}
