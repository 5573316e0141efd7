import { Logger, makeWorkerUtils, run, type JobHelpers } from 'graphile-worker';
import { createBenchDatabase } from '../pg-admin.ts';
import type { BenchSettings } from '../settings.ts';
import { measurePeer, type PeerThroughput } from './peer-result.ts';

const silent = new Logger(() => () => {});

/**
 * graphile-worker on the same Postgres (its own fresh database): a no-op job per "execution", and
 * the diamond emulated by handlers enqueueing successors — a adds b, c, d; the last of b, c, d to
 * finish adds e. The join counter is in process memory (no durability: that is MC's job, not the peer's).
 */
export async function graphilePeers(s: BenchSettings, log: (m: string) => void): Promise<PeerThroughput[]> {
  const db = await createBenchDatabase('graphile');
  const utils = await makeWorkerUtils({ connectionString: db.url, logger: silent });
  await utils.migrate();
  let noopDone = 0;
  let diamondDone = 0;
  const joins = new Map<string, number>();
  const middle = async (payload: unknown, helpers: JobHelpers) => {
    const runId = (payload as { run: string }).run;
    const left = (joins.get(runId) ?? 3) - 1;
    if (left === 0) {
      joins.delete(runId);
      await helpers.addJob('e', { run: runId });
    } else joins.set(runId, left);
  };
  const runner = await run({
    connectionString: db.url,
    concurrency: s.workerConcurrency,
    maxPoolSize: s.poolSize,
    noHandleSignals: true,
    pollInterval: 1000,
    logger: silent,
    taskList: {
      noop: async () => {
        noopDone++;
      },
      a: async (payload, helpers) => {
        const runId = (payload as { run: string }).run;
        joins.set(runId, 3);
        await Promise.all(['b', 'c', 'd'].map((t) => helpers.addJob(t, { run: runId })));
      },
      b: middle,
      c: middle,
      d: middle,
      e: async () => {
        diamondDone++;
      },
    },
  });
  let seq = 0;
  try {
    const one = await measurePeer(s, { peer: 'graphile-worker', workload: 'one-task', note: 'no-op job' }, () => utils.addJob('noop', {}), () => noopDone, log);
    const dia = await measurePeer(
      s,
      { peer: 'graphile-worker', workload: 'diamond', note: 'handlers enqueue successors; in-memory join' },
      () => utils.addJob('a', { run: String(++seq) }),
      () => diamondDone,
      log,
    );
    return [one, dia];
  } finally {
    await runner.stop();
    await utils.release();
    await db.drop();
  }
}
