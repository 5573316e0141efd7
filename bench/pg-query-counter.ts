import type { Socket, TCPSocketListener } from 'bun';

/**
 * A loopback TCP proxy in front of Postgres that counts the statements a process sends.
 * pg_stat_statements is not preloaded on the machine's Postgres (and restarting it would disturb
 * others), so the bench counts at the wire instead: each frontend `Execute` ('E', extended
 * protocol, what postgres.js uses) or `Query` ('Q', simple protocol) message is one statement.
 * Used only by the profiling pass: it adds a hop, so throughput runs connect directly.
 */
export interface QueryCounter {
  port: number;
  counts(): { statements: number; connections: number };
  /** Executions per statement text (whitespace collapsed), most frequent first. */
  breakdown(): [string, number][];
  reset(): void;
  stop(): void;
}

/** A socket's unwritten bytes: Bun's `write` may take only part of a chunk; the rest goes on `drain`. */
class Outbox {
  private queue: Uint8Array[] = [];
  constructor(public socket: Socket<ClientState> | null = null) {}
  write(chunk: Uint8Array) {
    if (!this.socket || this.queue.length > 0) {
      this.queue.push(new Uint8Array(chunk));
      return;
    }
    const n = this.socket.write(chunk);
    if (n < chunk.length) this.queue.push(chunk.slice(Math.max(0, n)));
  }
  flush() {
    if (!this.socket) return;
    while (this.queue.length > 0) {
      const head = this.queue[0]!;
      const n = this.socket.write(head);
      if (n < head.length) {
        this.queue[0] = head.slice(Math.max(0, n));
        return;
      }
      this.queue.shift();
    }
  }
}

interface ClientState {
  toUpstream: Outbox;
  toClient: Outbox;
  upstream: Socket<ClientState> | null;
  /** Startup and SSLRequest messages carry no type byte. */
  startupDone: boolean;
  buf: Uint8Array;
  /** Prepared statement name → its SQL (from Parse), and the statement the last Bind named. */
  prepared: Map<string, string>;
  bound: string;
}

export function startQueryCounter(target: { host: string; port: number }): QueryCounter {
  let statements = 0;
  let connections = 0;
  const perStatement = new Map<string, number>();
  const decoder = new TextDecoder();
  const cstring = (b: Uint8Array, from: number): [string, number] => {
    let end = from;
    while (end < b.length && b[end] !== 0) end++;
    return [decoder.decode(b.subarray(from, end)), end + 1];
  };
  const tally = (text: string) => {
    const key = text.replace(/\s+/g, ' ').trim().slice(0, 300);
    perStatement.set(key, (perStatement.get(key) ?? 0) + 1);
  };

  const scan = (st: ClientState, chunk: Uint8Array) => {
    let data = st.buf.length > 0 ? concat(st.buf, chunk) : chunk;
    let off = 0;
    for (;;) {
      if (!st.startupDone) {
        if (data.length - off < 8) break;
        const len = readInt32(data, off);
        if (data.length - off < len) break;
        const code = readInt32(data, off + 4);
        // 80877103 SSLRequest, 80877104 GSSENCRequest: another untyped message follows.
        if (code !== 80877103 && code !== 80877104) st.startupDone = true;
        off += len;
        continue;
      }
      if (data.length - off < 5) break;
      const type = data[off]!;
      const len = readInt32(data, off + 1);
      if (data.length - off < 1 + len) break;
      const body = data.subarray(off + 5, off + 1 + len);
      if (type === 0x50 /* P: name, query */) {
        const [name, next] = cstring(body, 0);
        st.prepared.set(name, cstring(body, next)[0]);
      } else if (type === 0x42 /* B: portal, statement */) {
        const [, next] = cstring(body, 0);
        st.bound = st.prepared.get(cstring(body, next)[0]) ?? '?';
      } else if (type === 0x45 /* E */) {
        statements++;
        tally(st.bound);
      } else if (type === 0x51 /* Q */) {
        statements++;
        tally(cstring(body, 0)[0]);
      }
      off += 1 + len;
    }
    st.buf = off < data.length ? data.slice(off) : new Uint8Array(0);
  };

  const listener: TCPSocketListener<ClientState> = Bun.listen<ClientState>({
    hostname: '127.0.0.1',
    port: 0,
    socket: {
      async open(client) {
        connections++;
        client.data = { toUpstream: new Outbox(), toClient: new Outbox(client), upstream: null, startupDone: false, buf: new Uint8Array(0), prepared: new Map(), bound: '?' };
        const st = client.data;
        const upstream = await Bun.connect<ClientState>({
          hostname: target.host,
          port: target.port,
          data: st,
          socket: {
            data(_s, chunk) {
              st.toClient.write(chunk);
            },
            drain() {
              st.toUpstream.flush();
            },
            close() {
              client.end();
            },
            error() {
              client.end();
            },
          },
        });
        st.upstream = upstream;
        st.toUpstream.socket = upstream;
        st.toUpstream.flush();
      },
      data(client, chunk) {
        const st = client.data;
        scan(st, chunk);
        st.toUpstream.write(chunk);
      },
      drain(client) {
        client.data.toClient.flush();
      },
      close(client) {
        client.data.upstream?.end();
      },
      error(client) {
        client.data.upstream?.end();
      },
    },
  });

  return {
    port: listener.port,
    counts: () => ({ statements, connections }),
    breakdown: () => [...perStatement.entries()].sort((a, b) => b[1] - a[1]),
    reset() {
      statements = 0;
      perStatement.clear();
    },
    stop() {
      listener.stop(true);
    },
  };
}

function readInt32(b: Uint8Array, off: number): number {
  return ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
