import type { Config } from '@mc/shared/config';

/** What a task implementation gets: its validated input, an abort signal (timeout, shutdown) and a redacting step log. */
export interface TaskRunContext<W = Record<string, unknown>> {
  executionId: string;
  taskId: string;
  /** 1 on the first run of the task body; a re-delivery after a crash counts. */
  attempt: number;
  /** Spec §11 key: pass it to external systems (e.g. as `Idempotency-Key`) so a re-run acts once. */
  idempotencyKey: string;
  input: W;
  signal: AbortSignal;
  config: Config;
  log(level: 'info' | 'warn' | 'error', message: string, data?: unknown): Promise<void>;
  /** Durable waits (sleep, wait-for-event, approval); set by the task processor. */
  durable?: DurableControl;
}

/**
 * What a task that waits gets. A wait is not a held timer: `suspendUntil` ends this delivery and
 * leaves the step `waiting` with its job in BullMQ's delayed set, so a worker restart loses nothing
 * and no worker slot is held; the task runs again at `until`, or earlier when woken (a signal, an
 * approval), and decides again from what is stored.
 */
export interface DurableControl {
  /** When the step's first delivery started: sleeps and deadlines count from here, across restarts. */
  startedAt: Date;
  /** The task's `timeoutMs`: a sleep longer than it fails when it runs out. */
  taskTimeoutMs: number;
  /** `recheck`: called once the job is delayed; true wakes it at once (what it waits for came meanwhile). */
  suspendUntil(until: Date, recheck?: () => Promise<boolean>): never;
  findSignal(event: string, key: string): Promise<{ payload: unknown; sentAt: Date; actorSub: string } | null>;
  approvals(): Promise<{ approvedBy: { sub: string; role: string; at: Date }[]; rejectedBy: { sub: string; comment: string | null } | null }>;
}

export class SuspendTask extends Error {
  constructor(
    readonly until: Date,
    readonly recheck?: () => Promise<boolean>,
  ) {
    super(`waiting until ${until.toISOString()}`);
  }
}

export function durableOf(ctx: { durable?: DurableControl | undefined }): DurableControl {
  if (!ctx.durable) throw new NonRetryableTaskError('this task needs the durable-wait support of the task processor');
  return ctx.durable;
}

export type TaskImplementation = (ctx: TaskRunContext<never>) => Promise<unknown>;

/** A failure no retry can fix (bad input, refused target): the step fails at once. */
export class NonRetryableTaskError extends Error {}
