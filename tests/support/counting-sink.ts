/**
 * A loopback HTTP receiver that records every call. A receiver that honours `Idempotency-Key`
 * (as payment APIs do) applies the effect on the first call with a key and treats later calls
 * with it as retries: so "acted once" means one distinct key per task, however many calls.
 */
export interface CountingSink {
  url: string;
  host: string;
  calls: { path: string; key: string | null; at: number }[];
  /** Calls per idempotency key. */
  effects: Map<string, number>;
  /** Distinct idempotency keys seen for a path. */
  keysFor(path: string): Set<string>;
  /** Make the next calls slow (ms), to hold a task mid-flight. */
  delayMs: number;
  stop(): Promise<void>;
}

export function startCountingSink(): CountingSink {
  const sink: CountingSink = {
    url: '',
    host: '',
    calls: [],
    effects: new Map(),
    delayMs: 0,
    keysFor(path) {
      return new Set(sink.calls.filter((c) => c.path === path && c.key).map((c) => c.key!));
    },
    async stop() {
      await server.stop(true);
    },
  };
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(req) {
      const path = new URL(req.url).pathname;
      const key = req.headers.get('idempotency-key');
      sink.calls.push({ path, key, at: Date.now() });
      if (sink.delayMs > 0) await Bun.sleep(sink.delayMs);
      if (key) sink.effects.set(key, (sink.effects.get(key) ?? 0) + 1);
      return Response.json({ ok: true, path });
    },
  });
  sink.host = `127.0.0.1:${server.port}`;
  sink.url = `http://${sink.host}`;
  return sink;
}
