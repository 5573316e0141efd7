import { durableOf, NonRetryableTaskError, type TaskRunContext } from './task-context.ts';

/** Waits, durably, for `executions.signal` with this event and key (one sent before the wait began counts); its payload is the output. */
export async function waitForEvent(ctx: TaskRunContext<{ event: string; key: string; timeoutMs: number }>): Promise<unknown> {
  const durable = durableOf(ctx);
  const { event, key, timeoutMs } = ctx.input;
  const found = await durable.findSignal(event, key);
  if (found) return { event, key, payload: found.payload, sentAt: found.sentAt.toISOString(), sentBy: found.actorSub };
  const deadline = durable.startedAt.getTime() + timeoutMs;
  if (Date.now() >= deadline) throw new NonRetryableTaskError(`no event "${event}" with key "${key}" came within ${timeoutMs} ms`);
  return durable.suspendUntil(new Date(deadline), async () => (await durable.findSignal(event, key)) !== null);
}
