import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { benchRedisUrl, deleteRedisPrefix, uniqueSuffix } from '../pg-admin.ts';
import type { BenchSettings } from '../settings.ts';
import { measurePeer, type PeerThroughput } from './peer-result.ts';

/**
 * Bare BullMQ: a no-op job per "execution", producer and worker in the bench process with MC's
 * worker concurrency. No database, policy, audit or receipt: the floor MC's Redis layer sits on.
 * Producer and worker use separate connections (producers fail fast, workers retry forever).
 */
export async function bullmqOneTask(s: BenchSettings, log: (m: string) => void): Promise<PeerThroughput> {
  const prefix = `mcbpeer${uniqueSuffix()}`;
  const producer = new Redis(benchRedisUrl, { maxRetriesPerRequest: 1 });
  const workerConn = new Redis(benchRedisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue('noop', { connection: producer, prefix });
  let completed = 0;
  const worker = new Worker('noop', async () => null, { connection: workerConn, prefix, concurrency: s.workerConcurrency });
  worker.on('completed', () => completed++);
  try {
    return await measurePeer(
      s,
      { peer: 'BullMQ', workload: 'one-task', note: 'no-op job, in-process producer + worker, removeOnComplete' },
      () => queue.add('noop', { n: 1 }, { removeOnComplete: true, removeOnFail: true }),
      () => completed,
      log,
    );
  } finally {
    await worker.close();
    await queue.close();
    await deleteRedisPrefix(producer, prefix);
    producer.disconnect();
    workerConn.disconnect();
  }
}
