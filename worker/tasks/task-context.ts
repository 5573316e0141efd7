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
}

export type TaskImplementation = (ctx: TaskRunContext<never>) => Promise<unknown>;

/** A failure no retry can fix (bad input, refused target): the step fails at once. */
export class NonRetryableTaskError extends Error {}
