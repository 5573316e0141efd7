import diagnosticsChannel from 'node:diagnostics_channel';

const subChannels = ['start', 'end', 'asyncStart', 'asyncEnd', 'error'] as const;

/**
 * Gives `TracingChannel` Node's `hasSubscribers` (true when any of its five channels has a
 * subscriber) where the runtime lacks it. Bun 1.4 has no such getter, and ioredis 6 traces a
 * command unless `hasSubscribers === false`: under Bun it traced every command with nobody
 * listening — every argument turned into a string (BullMQ's msgpack buffers decoded) and every
 * reply wrapped in `tracePromise`'s promises (~3.5 % of the worker's profile time in bench part 5;
 * a pipelined EVALSHA 18.4 → 15.4 µs of CPU, 2026-12-07). Idempotent; a runtime that has the getter
 * keeps its own.
 */
export function ensureTracingChannelHasSubscribers(): void {
  const proto = Object.getPrototypeOf(diagnosticsChannel.tracingChannel('mc:has-subscribers-probe')) as object;
  if ('hasSubscribers' in proto) return;
  Object.defineProperty(proto, 'hasSubscribers', {
    configurable: true,
    get(this: Record<(typeof subChannels)[number], { hasSubscribers?: boolean } | undefined>) {
      return subChannels.some((name) => this[name]?.hasSubscribers === true);
    },
  });
}
