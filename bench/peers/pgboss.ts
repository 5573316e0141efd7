import { PgBoss } from 'pg-boss';
import { createBenchDatabase } from '../pg-admin.ts';
import type { BenchSettings } from '../settings.ts';
import { measurePeer, type PeerThroughput } from './peer-result.ts';

/**
 * pg-boss on the same Postgres (its own fresh database), LISTEN/NOTIFY on, fetching in batches
 * (8 fetchers × 8 jobs = MC's default bench concurrency of 64). The diamond is emulated as for
 * graphile-worker: handlers enqueue successors, an in-memory counter joins b, c, d.
 */
export async function pgBossPeers(s: BenchSettings, log: (m: string) => void): Promise<PeerThroughput[]> {
  const db = await createBenchDatabase('pgboss');
  const boss = new PgBoss({ connectionString: db.url, max: s.poolSize, useListenNotify: true });
  let lastError: string | null = null;
  boss.on('error', (e) => (lastError = String(e)));
  await boss.start();
  const fetchers = Math.max(1, Math.round(Math.sqrt(s.workerConcurrency)));
  const batchSize = Math.max(1, Math.round(s.workerConcurrency / fetchers));
  const workOpts = { batchSize, localConcurrency: fetchers, pollingIntervalSeconds: 0.5, notifyPollingIntervalSeconds: 30, burstWhenBatchFull: true } as const;
  await boss.createQueue('noop', { notify: true });
  await boss.createQueue('diamond', { notify: true });
  let noopDone = 0;
  let diamondDone = 0;
  const joins = new Map<string, number>();
  await boss.work('noop', workOpts, async (jobs) => {
    noopDone += jobs.length;
  });
  await boss.work<{ run: string; step: string }>('diamond', workOpts, async (jobs) => {
    for (const job of jobs) {
      const { run, step } = job.data;
      if (step === 'a') {
        joins.set(run, 3);
        await boss.insert('diamond', ['b', 'c', 'd'].map((st) => ({ data: { run, step: st } })));
      } else if (step === 'e') {
        diamondDone++;
      } else {
        const left = (joins.get(run) ?? 3) - 1;
        if (left === 0) {
          joins.delete(run);
          await boss.send('diamond', { run, step: 'e' });
        } else joins.set(run, left);
      }
    }
  });
  let seq = 0;
  try {
    const one = await measurePeer(s, { peer: 'pg-boss', workload: 'one-task', note: `no-op job, ${fetchers}×${batchSize} batch fetch` }, () => boss.send('noop', {}), () => noopDone, log);
    const dia = await measurePeer(
      s,
      { peer: 'pg-boss', workload: 'diamond', note: 'handlers enqueue successors; in-memory join' },
      () => boss.send('diamond', { run: String(++seq), step: 'a' }),
      () => diamondDone,
      log,
    );
    if (lastError) log(`pg-boss reported: ${lastError}`);
    return [one, dia];
  } finally {
    await boss.stop({ graceful: false, close: true, timeout: 5_000 });
    await db.drop();
  }
}
