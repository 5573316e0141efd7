import { closedLoop } from '../load.ts';
import type { BenchSettings } from '../settings.ts';
import { median, round } from '../stats.ts';

/** What every peer reports: the same closed loop as MC's, counting the peer's own completions. */
export interface PeerThroughput {
  peer: string;
  workload: 'one-task' | 'diamond';
  perSecond: number;
  windows: number[];
  errors: number;
  note: string;
}

export async function measurePeer(
  s: BenchSettings,
  label: { peer: string; workload: PeerThroughput['workload']; note: string },
  submit: () => Promise<unknown>,
  completed: () => number,
  log: (m: string) => void,
): Promise<PeerThroughput> {
  const r = await closedLoop({
    concurrency: s.clientConcurrency,
    maxInFlight: s.maxInFlight,
    warmupMs: s.quick ? 2_000 : 5_000,
    windowMs: s.quick ? 4_000 : 10_000,
    windows: s.runs,
    submit,
    completed,
    pollMs: 10,
  });
  log(`${label.peer} ${label.workload}: ${r.rates.map((x) => round(x)).join(', ')} /s (errors ${r.errors}${r.firstError ? `: ${r.firstError}` : ''})`);
  return { ...label, perSecond: median(r.rates), windows: r.rates, errors: r.errors };
}
