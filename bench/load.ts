import { percentilesOf, type Percentiles } from './stats.ts';

/**
 * The load generator, in the bench process. Two shapes:
 * - closed loop: C submitters, each starting the next unit as soon as its request returns, while
 *   at most `maxInFlight` units are submitted but not yet completed (so the backlog, not the
 *   client, is what saturates); throughput is completions counted over fixed windows.
 * - open loop: units started on a fixed schedule (`rate` per second) whatever the system does, so
 *   latency is measured without coordinated omission.
 * HTTP goes through Bun's `fetch`, which keeps connections alive.
 */

export interface ClosedLoopOptions {
  concurrency: number;
  maxInFlight: number;
  warmupMs: number;
  windowMs: number;
  windows: number;
  submit: () => Promise<unknown>;
  /** Completed units so far (a Postgres count, or an in-process counter). */
  completed: () => Promise<number> | number;
  /** How often `completed` is polled. */
  pollMs?: number;
}

export interface ClosedLoopResult {
  /** Completions per second in each window. */
  rates: number[];
  submitted: number;
  errors: number;
  firstError: string | null;
}

export async function closedLoop(o: ClosedLoopOptions): Promise<ClosedLoopResult> {
  let submitted = 0;
  let done = await o.completed();
  const base = done;
  let errors = 0;
  let firstError: string | null = null;
  let running = true;
  const poller = (async () => {
    while (running) {
      done = await o.completed();
      await Bun.sleep(o.pollMs ?? 50);
    }
  })();
  const submitter = async () => {
    while (running) {
      if (submitted - (done - base) >= o.maxInFlight) {
        await Bun.sleep(2);
        continue;
      }
      submitted++;
      try {
        await o.submit();
      } catch (e) {
        submitted--;
        errors++;
        firstError ??= String(e);
        await Bun.sleep(10);
      }
    }
  };
  const submitters = Array.from({ length: o.concurrency }, submitter);
  await Bun.sleep(o.warmupMs);
  const rates: number[] = [];
  for (let w = 0; w < o.windows; w++) {
    const c0 = await o.completed();
    const t0 = performance.now();
    await Bun.sleep(o.windowMs);
    const c1 = await o.completed();
    rates.push(((c1 - c0) * 1000) / (performance.now() - t0));
  }
  running = false;
  await Promise.all([...submitters, poller]);
  // Drain, so the next measurement starts on an idle system.
  const drainDeadline = Date.now() + 120_000;
  while ((await o.completed()) - base < submitted && Date.now() < drainDeadline) await Bun.sleep(50);
  return { rates, submitted, errors, firstError };
}

export interface OpenLoopResult<T> {
  ids: T[];
  errors: number;
  firstError: string | null;
  /** Client-side latency of the submit calls themselves (ms). */
  submitLatency: Percentiles;
  achievedRate: number;
}

/** Starts `rate` units a second for `durationMs`, on schedule, without waiting for earlier ones. */
export async function openLoop<T>(rate: number, durationMs: number, submit: () => Promise<T>): Promise<OpenLoopResult<T>> {
  const ids: T[] = [];
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | null = null;
  const inFlight = new Set<Promise<void>>();
  const t0 = performance.now();
  const total = Math.round((rate * durationMs) / 1000);
  let issued = 0;
  while (issued < total) {
    const due = Math.min(total, Math.floor(((performance.now() - t0) * rate) / 1000) + 1);
    while (issued < due) {
      issued++;
      const s = performance.now();
      const p: Promise<void> = submit()
        .then((id) => {
          ids.push(id);
          latencies.push(performance.now() - s);
        })
        .catch((e) => {
          errors++;
          firstError ??= String(e);
        })
        .finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
    await Bun.sleep(Math.max(1, Math.min(5, 1000 / rate)));
  }
  const elapsed = performance.now() - t0;
  await Promise.all(inFlight);
  return { ids, errors, firstError, submitLatency: percentilesOf(latencies), achievedRate: (issued * 1000) / elapsed };
}

/** Calls `probe` every `intervalMs` until stopped, recording each call's latency (ms). */
export function startProber(intervalMs: number, probe: () => Promise<unknown>): { stop(): Promise<{ latency: Percentiles; errors: number }> } {
  const latencies: number[] = [];
  let errors = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const s = performance.now();
      try {
        await probe();
        latencies.push(performance.now() - s);
      } catch {
        errors++;
      }
      const left = intervalMs - (performance.now() - s);
      if (left > 0) await Bun.sleep(left);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { latency: percentilesOf(latencies), errors };
    },
  };
}

/** Samples each pid's VmRSS every `intervalMs`. */
export function startRssSampler(intervalMs: number, sample: () => Record<string, number>) {
  const samples: { t: number; rss: Record<string, number> }[] = [];
  const t0 = Date.now();
  const timer = setInterval(() => samples.push({ t: Date.now() - t0, rss: sample() }), intervalMs);
  samples.push({ t: 0, rss: sample() });
  return {
    stop() {
      clearInterval(timer);
      samples.push({ t: Date.now() - t0, rss: sample() });
      return samples;
    },
  };
}
