import { z } from 'zod';
import type { Redis } from 'ioredis';
import type { Deps } from '../deps.ts';

/**
 * Redis pub/sub from the server to workers: "stop the tasks of this execution" (it was cancelled
 * or rejected). Best effort by design — a worker that misses a message finds out by polling the
 * execution's status (MC_CONTROL_POLL_MS), and an unanswered task is abandoned after the grace period.
 */
export const controlMessageSchema = z.strictObject({ type: z.literal('abort'), executionId: z.uuid(), status: z.string() });
export type ControlMessage = z.infer<typeof controlMessageSchema>;

export const controlChannel = (prefix: string) => `${prefix}:control`;

export async function publishControl(deps: Pick<Deps, 'redis' | 'config' | 'logger'>, message: ControlMessage): Promise<void> {
  try {
    await deps.redis.publish(controlChannel(deps.config.MC_QUEUE_PREFIX), JSON.stringify(message));
  } catch (err) {
    deps.logger.warn({ err, 'exec.id': message.executionId }, 'control message not published; workers will see the status on their next poll');
  }
}

/** Subscribes a dedicated connection (a subscribed connection can do nothing else). */
export async function subscribeControl(subscriber: Redis, prefix: string, onMessage: (m: ControlMessage) => void): Promise<void> {
  subscriber.on('message', (channel: string, text: string) => {
    if (channel !== controlChannel(prefix)) return;
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      return;
    }
    const parsed = controlMessageSchema.safeParse(raw);
    if (parsed.success) onMessage(parsed.data);
  });
  await subscriber.subscribe(controlChannel(prefix));
}
