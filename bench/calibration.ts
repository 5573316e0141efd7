import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { median, round } from './stats.ts';

/**
 * What a run's machine is like, measured in the same run, so figures from different machines of
 * one kind can be told apart (docs/ops/benchmarks.md, "Machines of one kind differ"):
 * - a round trip between two processes over loopback TCP, as MC's hops are (client → server →
 *   Postgres/Redis → worker …), scheduled where the kernel likes and with both on one CPU: the
 *   difference is what waking a process on the other CPU costs (72.7 µs against 27.5 µs on the
 *   2026-12-07 machine, whose guest halt polling was off);
 * - a fixed single-threaded CPU workload (sha256 and JSON, about an execution's kinds of work);
 * - the guest's halt polling, which decides how fast an idle virtual CPU wakes.
 */
export interface Calibration {
  /** Median µs of one 1-byte round trip between two Bun processes over loopback TCP. */
  loopbackRoundTripUs: number;
  /** The same with both processes on CPU 0 (null where `taskset` is missing). */
  loopbackRoundTripOneCpuUs: number | null;
  /** ms for the fixed workload of `cpuWork` (lower is faster). */
  cpuWorkMs: number;
  /** `guest_halt_poll_ns` of the haltpoll cpuidle driver, when the machine has it. */
  guestHaltPollNs: number | null;
}

const roundTrips = 4_000;
const self = new URL(import.meta.url).pathname;

export async function calibrate(): Promise<Calibration> {
  const haltPoll = '/sys/module/haltpoll/parameters/guest_halt_poll_ns';
  const hasTaskset = Bun.which('taskset') !== null;
  const free: number[] = [];
  const pinned: number[] = [];
  // Alternated, three of each: the machine drifts, a pair taken side by side does not.
  for (let i = 0; i < 3; i++) {
    free.push(await pingPong([]));
    if (hasTaskset) pinned.push(await pingPong(['taskset', '-c', '0']));
  }
  return {
    loopbackRoundTripUs: round(median(free), 1),
    loopbackRoundTripOneCpuUs: hasTaskset ? round(median(pinned), 1) : null,
    cpuWorkMs: round(median([cpuWork(), cpuWork(), cpuWork()]), 1),
    guestHaltPollNs: existsSync(haltPoll) ? Number(readFileSync(haltPoll, 'utf8').trim()) : null,
  };
}

/** sha256 of 1 KiB 60,000 times, and a receipt-sized object through JSON 60,000 times. */
function cpuWork(): number {
  const block = Buffer.alloc(1024, 7);
  const doc = { subject: [{ name: 'execution', digest: { sha256: 'a'.repeat(64) } }], predicate: { steps: Array.from({ length: 5 }, (_, i) => ({ id: `t${i}`, status: 'succeeded', outputDigest: 'b'.repeat(64) })) } };
  const t0 = performance.now();
  for (let i = 0; i < 60_000; i++) createHash('sha256').update(block).digest();
  for (let i = 0; i < 60_000; i++) JSON.parse(JSON.stringify(doc));
  return performance.now() - t0;
}

/** Runs an echo server and a client as two processes (under `prefix`, e.g. taskset); µs per round trip. */
async function pingPong(prefix: string[]): Promise<number> {
  const server = Bun.spawn([...prefix, process.execPath, self, 'echo-server'], { stdout: 'pipe', stderr: 'inherit' });
  try {
    const reader = server.stdout.getReader();
    const { value } = await reader.read();
    reader.releaseLock();
    const port = Number(new TextDecoder().decode(value).trim());
    const client = Bun.spawn([...prefix, process.execPath, self, 'echo-client', String(port)], { stdout: 'pipe', stderr: 'inherit' });
    const out = await new Response(client.stdout).text();
    if ((await client.exited) !== 0) throw new Error('calibration client failed');
    return Number(out.trim());
  } finally {
    server.kill();
    await server.exited;
  }
}

async function echoServer() {
  const listener = Bun.listen({
    hostname: '127.0.0.1',
    port: 0,
    socket: { data: (socket, data) => void socket.write(data) },
  });
  process.stdout.write(`${listener.port}\n`);
}

async function echoClient(port: number) {
  let pending: (() => void) | null = null;
  const socket = await Bun.connect({
    hostname: '127.0.0.1',
    port,
    socket: { data: () => pending?.() },
  });
  socket.setNoDelay(true);
  const once = () =>
    new Promise<void>((resolve) => {
      pending = resolve;
      socket.write('x');
    });
  for (let i = 0; i < 400; i++) await once();
  const t0 = performance.now();
  for (let i = 0; i < roundTrips; i++) await once();
  process.stdout.write(`${((performance.now() - t0) * 1000) / roundTrips}\n`);
  socket.end();
  process.exit(0);
}

if (import.meta.main) {
  const [role, arg] = Bun.argv.slice(2);
  if (role === 'echo-server') await echoServer();
  else if (role === 'echo-client') await echoClient(Number(arg));
  else console.log(JSON.stringify(await calibrate()));
}
