/**
 * A loopback HTTP receiver that counts calls and effects. An effect is the first call with a given
 * `Idempotency-Key`; later calls with the same key are attempts, not effects — as a payment API
 * that honours idempotency keys would treat them.
 */
export interface CountingSink {
  url: string;
  host: string;
  calls: { path: string; key: string | null; at: number }[];
  effects: Map<string, number>;
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
