import { createServer, request, type IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A loopback HTTP proxy in front of an S3-protocol server (s3rver) that injects object-store
 * write failures at the wire: while failing, every object write — a path-style PUT of a key,
 * `/bucket/key…` — is answered 503 ServiceUnavailable, or its connection is reset, and never
 * reaches the store. Everything else (reads, HEADs, bucket PUTs) passes through untouched, the
 * Host header included, so SigV4 signatures still verify upstream.
 */

export type WriteFault = '503' | 'reset';

export interface S3FaultProxy {
  /** Point S3_ENDPOINT here. */
  endpoint: string;
  /** From now on object writes fail this way, until `heal()`. */
  fail(mode?: WriteFault): void;
  heal(): void;
  /** Object-write PUTs that arrived for `bucket/key` (faulted or passed); all of them without a key. */
  putAttempts(objectPath?: string): number;
  /** Object writes refused so far. */
  readonly faulted: number;
  stop(): Promise<void>;
}

/** `bucket/key` of a path-style object request, or null for a bucket-level one. */
function objectPathOf(req: IncomingMessage): string | null {
  const segments = new URL(req.url ?? '/', 'http://proxy').pathname.split('/').filter(Boolean);
  return segments.length >= 2 ? segments.map(decodeURIComponent).join('/') : null;
}

export async function startS3FaultProxy(upstreamEndpoint: string): Promise<S3FaultProxy> {
  const upstream = new URL(upstreamEndpoint);
  let failing: WriteFault | null = null;
  let faulted = 0;
  const puts = new Map<string, number>();
  const sockets = new Set<Socket>();

  const server = createServer((req, res) => {
    const objectPath = req.method === 'PUT' ? objectPathOf(req) : null;
    if (objectPath) puts.set(objectPath, (puts.get(objectPath) ?? 0) + 1);
    if (objectPath && failing) {
      faulted++;
      if (failing === 'reset') {
        // The client sees its connection drop mid-request (ECONNRESET / socket hang up).
        req.socket.destroy();
        return;
      }
      // Read the body first so the client is not cut off while still sending it.
      req.resume();
      req.on('end', () => {
        res.writeHead(503, { 'content-type': 'application/xml', connection: 'close' });
        res.end('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>ServiceUnavailable</Code><Message>injected: object writes are refused</Message></Error>');
      });
      return;
    }
    const forwarded = request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forwarded.on('error', () => res.destroy());
    req.pipe(forwarded);
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    fail(mode = '503') {
      failing = mode;
    },
    heal() {
      failing = null;
    },
    putAttempts(objectPath) {
      if (objectPath !== undefined) return puts.get(objectPath) ?? 0;
      let total = 0;
      for (const n of puts.values()) total += n;
      return total;
    },
    get faulted() {
      return faulted;
    },
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
