import { startMcStack, type McStack } from '../mc-stack.ts';
import type { BenchSettings } from '../settings.ts';
import { median, round } from '../stats.ts';
import { chain } from '../workloads.ts';

/**
 * The published orchestrator benchmark's workloads: 40 sequential light tasks, and 10 sequential
 * long ones; wall time from submit to the receipt. Its light task computes fibonacci(10) — a few
 * microseconds of work — so the comparable MC task is `pkg:demo/echo` (no work); the brief's
 * reading, `pkg:mc/sleep` with ms: 10, is reported too (it cannot finish under 40 × 10 ms = 0.4 s).
 * The long task is a 1 s sleep (floor 10 s).
 */
export interface PublishedResult {
  workload: string;
  tasks: number;
  floorMs: number;
  runs: number[];
  wallMs: number;
  /** created_at → receipts.created_at, from Postgres. */
  serverMs: number;
}

export const publishedBest = [
  { system: 'Hatchet', seconds: 1.22 },
  { system: 'Temporal', seconds: 2.97 },
  { system: 'Windmill', seconds: 4.38 },
];
export const mcTargetSeconds = 0.25;

export async function runPublishedPart(s: BenchSettings, log: (m: string) => void): Promise<PublishedResult[]> {
  const stack = await startMcStack({ label: 'published', workerConcurrency: s.workerConcurrency, poolSize: s.poolSize });
  try {
    const workloads = [
      { workload: '40 sequential light tasks (echo ≈ fib(10))', tasks: 40, floorMs: 0, manifest: chain('bench-light-echo', 40, { uses: 'pkg:demo/echo@1.0.0', with: { n: 10 } }) },
      { workload: '40 sequential light tasks (sleep 10 ms)', tasks: 40, floorMs: 400, manifest: chain('bench-light-sleep', 40, { uses: 'pkg:mc/sleep@1.0.0', with: { ms: 10 } }) },
      { workload: '10 sequential long tasks (sleep 1 s)', tasks: 10, floorMs: 10_000, manifest: chain('bench-long', 10, { uses: 'pkg:mc/sleep@1.0.0', with: { ms: 1000 } }) },
    ];
    const out: PublishedResult[] = [];
    for (const w of workloads) {
      const id = await stack.publish(w.manifest);
      await timeOne(stack, id); // warm-up, not counted
      const walls: number[] = [];
      const servers: number[] = [];
      const runs = w.floorMs >= 10_000 && s.quick ? 3 : Math.max(s.runs, 5);
      for (let i = 0; i < runs; i++) {
        const t = await timeOne(stack, id);
        walls.push(t.wallMs);
        servers.push(t.serverMs);
      }
      const r = { workload: w.workload, tasks: w.tasks, floorMs: w.floorMs, runs: walls.map((x) => round(x)), wallMs: median(walls), serverMs: median(servers) };
      log(`published ${w.workload}: ${r.runs.join(', ')} ms (median ${round(r.wallMs)} ms)`);
      out.push(r);
    }
    return out;
  } finally {
    await stack.stop();
  }
}

/** Submit → receipt stored, polling Postgres every 2 ms for the receipt row. */
async function timeOne(stack: McStack, workflowId: string): Promise<{ wallMs: number; serverMs: number }> {
  const t0 = performance.now();
  const id = await stack.start(workflowId);
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const [row] = await stack.sql<{ ms: string }[]>`
      select extract(epoch from (r.created_at - e.created_at)) * 1000 as ms
      from receipts r join executions e on e.id = r.execution_id where r.execution_id = ${id}`;
    if (row) return { wallMs: performance.now() - t0, serverMs: Number(row.ms) };
    await Bun.sleep(2);
  }
  throw new Error(`execution ${id} had no receipt after 120 s`);
}

export { timeOne };
