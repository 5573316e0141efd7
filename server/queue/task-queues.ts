import { Queue, type JobsOptions, type RepeatOptions } from 'bullmq';
import { nextFireAfter } from '@mc/shared/schedules';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { FairDispatcher, type StagedTask } from './fair-dispatcher.ts';
import { CallGroups } from '../groups/call-groups.ts';

/**
 * The typed job map: each queue's payload schema. Payloads carry ids only — never inputs,
 * outputs or secrets — and are re-validated when dequeued.
 */
export const taskJobSchema = z.strictObject({
  executionId: z.uuid(),
  taskId: z.string().min(1).max(64),
  traceparent: z.string().max(100).optional(),
  // Labels for the task's telemetry, known when it is enqueued; without them the worker looks them up.
  workflowId: z.uuid().optional(),
  uses: z.string().max(200).optional(),
});
export type TaskJob = z.infer<typeof taskJobSchema>;
export const receiptJobSchema = z.strictObject({ executionId: z.uuid() });
export type ReceiptJob = z.infer<typeof receiptJobSchema>;

export const receiptQueueName = 'mc-receipts';
export const scheduleQueueName = 'mc-schedules';
export const scheduleJobSchema = z.strictObject({ scheduleId: z.uuid() });
export type ScheduleJob = z.infer<typeof scheduleJobSchema>;

/**
 * BullMQ's repeat strategy for cron schedulers, replaced by MC's pure `nextFireAfter` so the
 * times BullMQ fires at are exactly those a test computes with a fake clock (shared/schedules.ts).
 */
export function scheduleRepeatStrategy(millis: number, opts: RepeatOptions): number | undefined {
  if (!opts.pattern) return undefined;
  return nextFireAfter({ cron: opts.pattern, timezone: opts.tz ?? 'UTC', everyMs: null }, millis);
}
export const taskQueueName = (runnerClass: string) => `mc-tasks-${runnerClass}`;

/** One job id per step for its whole life (BullMQ keeps it across retries), so nothing is enqueued twice. */
export const taskJobId = (executionId: string, taskId: string) => `${executionId}.${taskId}`;
export const receiptJobId = (executionId: string) => `receipt.${executionId}`;

export interface ReadyTask {
  executionId: string;
  tenantId: string;
  taskId: string;
  runnerClass: string;
  retries: number;
  priority: 'high' | 'normal' | 'low';
  /** Telemetry labels carried by the job (see taskJobSchema). */
  workflowId?: string;
  uses?: string;
}

/** BullMQ priorities: lower runs first; every task job has one, so they are ordered by it, then FIFO. */
const bullPriority = { high: 1, normal: 2, low: 3 } as const;

/** How long a dispatch's "nothing staged" spares the refills that follow it their own (see `dispatch`). */
const refillSkipMs = 20;

interface EnqueueWaiting {
  tasks: StagedTask[];
  resolve(): void;
  reject(reason: unknown): void;
}

export class TaskQueues {
  private readonly queues = new Map<string, Queue>();
  private receiptQueue: Queue | undefined;
  private scheduleQueue: Queue | undefined;
  readonly fair: FairDispatcher;
  private readonly dispatching = new Map<string, Promise<number>>();
  private readonly dispatchAgain = new Set<string>();
  /** Enqueues grouped (see `enqueueTasks`): at most 256 tasks a group. */
  private readonly enqueues = new CallGroups<EnqueueWaiting>((group) => this.enqueueGroup(group), { maxOpen: 2, maxGroup: 256, weight: (w) => w.tasks.length });

  constructor(
    private readonly connection: Redis,
    private readonly prefix: string,
    private readonly retryBackoffMs: number,
    private readonly dispatchWindow = 64,
    private readonly receiptRetry: { attempts: number; backoffMs: number } = { attempts: 7, backoffMs: 500 },
  ) {
    this.fair = new FairDispatcher(connection, prefix);
  }

  queueFor(runnerClass: string): Queue {
    let q = this.queues.get(runnerClass);
    if (!q) {
      q = new Queue(taskQueueName(runnerClass), { connection: this.connection, prefix: this.prefix });
      this.queues.set(runnerClass, q);
    }
    return q;
  }

  /** Schedules fire as jobs of this queue, made by BullMQ job schedulers (one per active schedule, id = schedule id). */
  schedules(): Queue {
    this.scheduleQueue ??= new Queue(scheduleQueueName, { connection: this.connection, prefix: this.prefix, settings: { repeatStrategy: scheduleRepeatStrategy } });
    return this.scheduleQueue;
  }

  receipts(): Queue {
    this.receiptQueue ??= new Queue(receiptQueueName, { connection: this.connection, prefix: this.prefix });
    return this.receiptQueue;
  }

  /**
   * Ready tasks go to their tenant's staging set, then as many as the runner queue's window
   * allows move onto it, tenants served round-robin (server/queue/fair-dispatcher.ts).
   *
   * Enqueued in groups, as a database groups commits: tasks that find fewer than two enqueues
   * under way go at once; those that come meanwhile (other starts' roots, other completions'
   * dependents) wait and go together, as one caller's list would — one room check, one add — up
   * to 256 tasks. Each caller settles when its group does: a group fails whole (Redis refused
   * it), and each of its callers gets that error, as it would have alone.
   */
  enqueueTasks(tasks: readonly ReadyTask[], traceparent?: string): Promise<void> {
    if (tasks.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => this.enqueues.add({ tasks: tasks.map((t) => ({ ...t, ...(traceparent ? { traceparent } : {}) })), resolve, reject }));
  }

  private async enqueueGroup(group: EnqueueWaiting[]): Promise<void> {
    try {
      await this.enqueueNow(group.flatMap((g) => g.tasks));
      for (const g of group) g.resolve();
    } catch (e) {
      for (const g of group) g.reject(e);
    }
  }

  private async enqueueNow(tasks: StagedTask[]): Promise<void> {
    // Fast path: nothing staged anywhere and room in the window — straight onto the queue, as
    // round-robin would have done (a racing producer may overshoot the window by a few jobs).
    const classes = [...new Set(tasks.map((t) => t.runnerClass))];
    // Both questions at once: on one connection they go out back to back, one round trip instead of two.
    const [empty, room] = classes.length === 1 ? await Promise.all([this.fair.isEmpty(classes[0]!), this.room(classes[0]!)]) : [false, 0];
    if (empty && room >= tasks.length) {
      await this.addToQueue(classes[0]!, tasks);
      return;
    }
    await this.fair.stage(tasks, (t) => taskJobId(t.executionId, t.taskId));
    await Promise.all(classes.map((rc) => this.dispatch(rc)));
  }

  /**
   * Fills the runner queue's window from the staged tasks; concurrent calls in one process
   * coalesce. `refill`: asked for because a job finished and freed room — skipped when this
   * process's last dispatch found nothing staged less than `refillSkipMs` ago: every completion
   * asked Redis (a script of its own) though under load nothing is staged (tasks go straight onto
   * the queue while it has room). A task staged meanwhile is dispatched by whoever staged it,
   * and if the window was full then, by a later refill or the worker's 100 ms tick.
   */
  async dispatch(runnerClass: string, opts: { refill?: boolean } = {}): Promise<number> {
    if (opts.refill && this.fair.foundNothingStagedWithin(runnerClass, refillSkipMs)) return 0;
    const running = this.dispatching.get(runnerClass);
    if (running) {
      this.dispatchAgain.add(runnerClass);
      return running;
    }
    const run = (async () => {
      let moved = 0;
      do {
        this.dispatchAgain.delete(runnerClass);
        const queue = this.queueFor(runnerClass);
        moved += await this.fair.dispatch(runnerClass, { waitKey: queue.keys.wait!, prioritizedKey: queue.keys.prioritized!, window: this.dispatchWindow }, (picked) => this.addToQueue(runnerClass, picked));
      } while (this.dispatchAgain.has(runnerClass));
      return moved;
    })().finally(() => this.dispatching.delete(runnerClass));
    this.dispatching.set(runnerClass, run);
    return run;
  }

  private async room(runnerClass: string): Promise<number> {
    const counts = await this.queueFor(runnerClass).getJobCounts('wait', 'prioritized');
    return this.dispatchWindow - ((counts.wait ?? 0) + (counts.prioritized ?? 0));
  }

  private async addToQueue(runnerClass: string, tasks: StagedTask[]): Promise<void> {
    await this.queueFor(runnerClass).addBulk(
      tasks.map((t) => ({
        name: 'task',
        data: {
          executionId: t.executionId,
          taskId: t.taskId,
          ...(t.traceparent ? { traceparent: t.traceparent } : {}),
          ...(t.workflowId ? { workflowId: t.workflowId } : {}),
          ...(t.uses ? { uses: t.uses } : {}),
        } satisfies TaskJob,
        opts: this.taskJobOptions(t),
      })),
    );
  }

  /**
   * Puts a step's job back (resume, the sweeper): a finished job left under the step's id would
   * make the add a no-op, so it is removed first; a job still waiting, delayed or active is kept.
   * `wakeAt`: a waiting step's job is added delayed until then. Returns false when a live job exists.
   */
  async requeueTask(t: ReadyTask, opts: { wakeAt?: Date | null } = {}): Promise<boolean> {
    const queue = this.queueFor(t.runnerClass);
    const jobId = taskJobId(t.executionId, t.taskId);
    const job = await queue.getJob(jobId);
    if (job) {
      const state = await job.getState();
      if (state === 'active' || state === 'waiting' || state === 'delayed' || state === 'prioritized' || state === 'waiting-children') return false;
      await job.remove();
    }
    const delay = opts.wakeAt ? Math.max(0, opts.wakeAt.getTime() - Date.now()) : 0;
    if (delay > 0) {
      const data: TaskJob = { executionId: t.executionId, taskId: t.taskId, ...(t.workflowId ? { workflowId: t.workflowId } : {}), ...(t.uses ? { uses: t.uses } : {}) };
      await queue.add('task', data, { ...this.taskJobOptions(t), delay });
      return true;
    }
    if (await this.fair.isStaged(t.runnerClass, t.tenantId, jobId)) return false;
    await this.enqueueTasks([t]);
    return true;
  }

  /** Wakes a waiting step's delayed job now (a signal or an approval came); false when it is not delayed. */
  async wakeTask(runnerClass: string, executionId: string, taskId: string): Promise<boolean> {
    const job = await this.queueFor(runnerClass).getJob(taskJobId(executionId, taskId));
    if (!job) return false;
    try {
      await job.promote();
      return true;
    } catch {
      // Not delayed (yet, or any more): the worker re-checks after it suspends, so the wake is not lost.
      return false;
    }
  }

  private taskJobOptions(t: Pick<ReadyTask, 'executionId' | 'taskId' | 'retries' | 'priority'>): JobsOptions {
    return {
      jobId: taskJobId(t.executionId, t.taskId),
      priority: bullPriority[t.priority] ?? bullPriority.normal,
      attempts: t.retries + 1,
      backoff: { type: 'exponential', delay: this.retryBackoffMs },
      // Postgres holds the outcome; finished jobs only need to linger for the queue dashboard.
      removeOnComplete: { age: 3600, count: 1000 },
      removeOnFail: { age: 24 * 3600, count: 1000 },
    };
  }

  /** Promotes a delayed receipt job (a cancelled run's tasks all stopped before the grace period ran out). */
  async promoteReceipt(executionId: string): Promise<void> {
    const job = await this.receipts().getJob(receiptJobId(executionId));
    if (!job || (await job.getState()) !== 'delayed') return;
    await job.promote().catch(() => undefined);
  }

  async enqueueReceipt(executionId: string, opts: { delayMs?: number } = {}): Promise<void> {
    await this.receipts().add('receipt', { executionId } satisfies ReceiptJob, {
      ...(opts.delayMs ? { delay: opts.delayMs } : {}),
      jobId: receiptJobId(executionId),
      // Few enough that the backoff stays short (an outage's end is noticed soon): when they run
      // out the job is removed, and the sweeper enqueues the execution again — it is still
      // `receipt_pending` — on its next pass. A receipt is never abandoned.
      attempts: this.receiptRetry.attempts,
      backoff: { type: 'exponential', delay: this.receiptRetry.backoffMs },
      removeOnComplete: { age: 3600, count: 1000 },
      removeOnFail: true,
    });
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values(), ...(this.receiptQueue ? [this.receiptQueue] : []), ...(this.scheduleQueue ? [this.scheduleQueue] : [])].map((q) => q.close()));
  }
}
