import { isTerminalStatus } from './execution-statuses.ts';
import type { AuditEventView, ExecutionSummary } from './trpc.ts';

export interface Overview {
  total: number;
  finished: number;
  successRate: number | null;
  /** Executions created in each of the last 30 minutes, oldest first. */
  perMinute: number[];
  minuteLabels: string[];
  lastMinute: number;
  p50StartMs: number | null;
  p95StartMs: number | null;
  decisions: number;
  denies: number;
  decisionsTruncated: boolean;
  latest: ExecutionSummary[];
}

function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? null;
}

function isDeny(e: AuditEventView): boolean {
  const data = e.data;
  return typeof data === 'object' && data !== null && (data as { allow?: unknown }).allow === false;
}

export function computeOverview(recent: readonly ExecutionSummary[], decisionEvents: readonly AuditEventView[], now: Date): Overview {
  const minutes = 30;
  const perMinute = new Array<number>(minutes).fill(0);
  const start = now.getTime() - minutes * 60_000;
  for (const e of recent) {
    const t = e.createdAt.getTime();
    if (t < start) continue;
    perMinute[Math.min(minutes - 1, Math.floor((t - start) / 60_000))]!++;
  }
  const minuteLabels = perMinute.map((_, i) => new Date(start + i * 60_000).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' }));
  // A receipt_pending run has finished: it counts by its outcome.
  const finalStatus = (e: ExecutionSummary) => e.outcome ?? e.status;
  const finished = recent.filter((e) => isTerminalStatus(finalStatus(e)));
  const succeeded = finished.filter((e) => finalStatus(e) === 'succeeded').length;
  const waits = recent
    .filter((e) => e.startedAt !== null)
    .map((e) => e.startedAt!.getTime() - e.createdAt.getTime())
    .sort((a, b) => a - b);
  return {
    total: recent.length,
    finished: finished.length,
    successRate: finished.length === 0 ? null : succeeded / finished.length,
    perMinute,
    minuteLabels,
    lastMinute: perMinute[minutes - 1] ?? 0,
    p50StartMs: percentile(waits, 0.5),
    p95StartMs: percentile(waits, 0.95),
    decisions: decisionEvents.length,
    denies: decisionEvents.filter(isDeny).length,
    decisionsTruncated: decisionEvents.length >= 500,
    latest: recent.slice(0, 10),
  };
}
