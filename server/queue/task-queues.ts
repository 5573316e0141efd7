import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { z } from 'zod';

/**
 * The typed job map: each queue's payload schema. Payloads carry ids only — never inputs,
 * outputs or secrets — and are re-validated when dequeued.
 */
export const taskJobSchema = z.strictObject({ executionId: z.uuid(), taskId: z.string().min(1).max(64), traceparent: z.string().max(100).optional() });
export type TaskJob = z.infer<typeof taskJobSchema>;
export const receiptJobSchema = z.strictObject({ executionId: z.uuid() });
export type ReceiptJob = z.infer<typeof receiptJobSchema>;

export const receiptQueueName = 'mc-receipts';
export const taskQueueName = (runnerClass: string) => `mc-tasks-${runnerClass}`;

/** One job id per step for its whole life (BullMQ keeps it across retries), so nothing is enqueued twice. */
export const taskJobId = (executionId: string, taskId: string) => `${executionId}.${taskId}`;
export const receiptJobId = (executionId: string) => `receipt.${executionId}`;

export interface ReadyTask {
  executionId: string;
  taskId: string;
  runnerClass: string;
  retries: number;
}

export class TaskQueues {
  private readonly queues = new Map<string, Queue>();
  private receiptQueue: Queue | undefined;

  constructor(
    private readonly connection: Redis,
    private readonly prefix: string,
    private readonly retryBackoffMs: number,
  ) {}

  queueFor(runnerClass: string): Queue {
    let q = this.queues.get(runnerClass);
    if (!q) {
      q = new Queue(taskQueueName(runnerClass), { connection: this.connection, prefix: this.prefix });
      this.queues.set(runnerClass, q);
    }
    return q;
  }

  receipts(): Queue {
    this.receiptQueue ??= new Queue(receiptQueueName, { connection: this.connection, prefix: this.prefix });
    return this.receiptQueue;
  }

  async enqueueTasks(tasks: readonly ReadyTask[], traceparent?: string): Promise<void> {
    const byClass = new Map<string, ReadyTask[]>();
    for (const t of tasks) byClass.set(t.runnerClass, [...(byClass.get(t.runnerClass) ?? []), t]);
    await Promise.all(
      [...byClass].map(([runnerClass, group]) =>
        this.queueFor(runnerClass).addBulk(
          group.map((t) => ({
            name: 'task',
            data: { executionId: t.executionId, taskId: t.taskId, ...(traceparent ? { traceparent } : {}) } satisfies TaskJob,
            opts: this.taskJobOptions(t),
          })),
        ),
      ),
    );
  }

  private taskJobOptions(t: ReadyTask): JobsOptions {
    return {
      jobId: taskJobId(t.executionId, t.taskId),
      attempts: t.retries + 1,
      backoff: { type: 'exponential', delay: this.retryBackoffMs },
      // Postgres holds the outcome; finished jobs only need to linger for the queue dashboard.
      removeOnComplete: { age: 3600, count: 1000 },
      removeOnFail: { age: 24 * 3600, count: 1000 },
    };
  }

  async enqueueReceipt(executionId: string): Promise<void> {
    await this.receipts().add('receipt', { executionId } satisfies ReceiptJob, {
      jobId: receiptJobId(executionId),
      attempts: 12,
      backoff: { type: 'exponential', delay: 500 },
      removeOnComplete: { age: 3600, count: 1000 },
      // Removed when it gives up so the sweeper can enqueue it again later: a receipt is never abandoned.
      removeOnFail: true,
    });
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values(), ...(this.receiptQueue ? [this.receiptQueue] : [])].map((q) => q.close()));
  }
}
