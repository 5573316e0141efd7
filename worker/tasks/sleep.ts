import { durableOf, NonRetryableTaskError, type TaskRunContext } from './task-context.ts';

/**
 * A durable sleep: the end time counts from the step's first start and is kept in Postgres and
 * in BullMQ's delayed set, so a worker killed mid-sleep loses nothing and no worker slot is held
 * while it sleeps. A sleep longer than the task's `timeoutMs` fails when the timeout runs out.
 */
export async function sleep(ctx: TaskRunContext<{ ms: number }>): Promise<unknown> {
  const durable = durableOf(ctx);
  const start = durable.startedAt.getTime();
  const wakeAt = start + Math.min(ctx.input.ms, durable.taskTimeoutMs);
  if (Date.now() < wakeAt) durable.suspendUntil(new Date(wakeAt));
  if (ctx.input.ms > durable.taskTimeoutMs) throw new NonRetryableTaskError(`timed out after ${durable.taskTimeoutMs} ms`);
  return { sleptMs: ctx.input.ms };
}
