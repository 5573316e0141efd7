import type { Subprocess } from 'bun';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A free loopback port (the OS picks one; it is released before use). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * A redis-server of the test's own on a random port, so a test can stop and restart Redis without
 * touching the machine's (other test files use it). Append-only file on, fsync always: a restart
 * comes back with its streams and consumer groups, as a production Redis would.
 */
export class PrivateRedis {
  private proc: Subprocess | null = null;
  readonly dir = mkdtempSync(join(tmpdir(), 'mc-redis-'));
  private constructor(readonly port: number) {}

  static async start(): Promise<PrivateRedis> {
    const r = new PrivateRedis(await freePort());
    await r.up();
    return r;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async up(): Promise<void> {
    this.proc = Bun.spawn(
      ['redis-server', '--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', this.dir, '--maxmemory-policy', 'noeviction'],
      { stdout: 'ignore', stderr: 'ignore' },
    );
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      try {
        const c = await Bun.connect({ hostname: '127.0.0.1', port: this.port, socket: { data() {} } });
        c.end();
        return;
      } catch {
        await Bun.sleep(25);
      }
    }
    throw new Error(`redis-server did not start on ${this.port}`);
  }

  /** Kills it hard (SIGKILL), as a crash or an outage would. */
  async down(): Promise<void> {
    this.proc?.kill('SIGKILL');
    await this.proc?.exited;
    this.proc = null;
  }

  async stop(): Promise<void> {
    await this.down();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
