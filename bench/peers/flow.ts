import { FlowProducer, Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { benchRedisUrl, deleteRedisPrefix, uniqueSuffix } from '../pg-admin.ts';
import type { BenchSettings } from '../settings.ts';
import { measurePeer, type PeerThroughput } from './peer-result.ts';

/**
 * The diamond a → {b, c, d} → e on BullMQ's FlowProducer. A flow is a tree whose parent runs
 * after all its children, so it expresses "e after b, c, d" but not a node shared by three
 * parents ("b, c, d after a"). The mapping: `a` is an ordinary job; its processor adds the flow
 * `e ← [b, c, d]`. Five jobs, the same dependency order, one completion counted when `e` finishes.
 */
export async function bullmqFlowDiamond(s: BenchSettings, log: (m: string) => void): Promise<PeerThroughput> {
  const prefix = `mcbpeer${uniqueSuffix()}`;
  const queueName = 'diamond';
  const producer = new Redis(benchRedisUrl, { maxRetriesPerRequest: 1 });
  const flowConn = new Redis(benchRedisUrl, { maxRetriesPerRequest: 1 });
  const workerConn = new Redis(benchRedisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue(queueName, { connection: producer, prefix });
  const flows = new FlowProducer({ connection: flowConn, prefix });
  const jobOpts = { removeOnComplete: true, removeOnFail: true };
  let completed = 0;
  const worker = new Worker(
    queueName,
    async (job: Job) => {
      if (job.name === 'a') {
        await flows.add({
          name: 'e',
          queueName,
          data: job.data,
          opts: jobOpts,
          children: ['b', 'c', 'd'].map((name) => ({ name, queueName, data: job.data, opts: jobOpts })),
        });
      }
      return null;
    },
    { connection: workerConn, prefix, concurrency: s.workerConcurrency },
  );
  worker.on('completed', (job) => {
    if (job.name === 'e') completed++;
  });
  try {
    return await measurePeer(
      s,
      { peer: 'BullMQ FlowProducer', workload: 'diamond', note: 'job a adds flow e←[b,c,d] (flows are trees)' },
      () => queue.add('a', { n: 1 }, jobOpts),
      () => completed,
      log,
    );
  } finally {
    await worker.close();
    await flows.close();
    await queue.close();
    await deleteRedisPrefix(producer, prefix);
    producer.disconnect();
    flowConn.disconnect();
    workerConn.disconnect();
  }
}
