import type { Deps } from '../deps.ts';
import { addApiRequestCounts } from './ops-repository.ts';

/**
 * Counts API responses (`/api/*`, `/trpc/*`) per minute in the server process and adds them to
 * `api_request_minutes` every few seconds, so the Sev1 5xx criterion sees every server process
 * (the Prometheus counter is per process). At most one flush interval of counts is lost on a crash.
 */
const flushIntervalMs = 5_000;

interface Recorder {
  counts: Map<number, { total: number; errors5xx: number }>;
  timer: ReturnType<typeof setInterval>;
}

const recorders = new WeakMap<Pick<Deps, 'db'>, Recorder>();

export function recordApiResponse(deps: Pick<Deps, 'db' | 'logger'>, pathname: string, status: number): void {
  if (!pathname.startsWith('/api/') && !pathname.startsWith('/trpc/')) return;
  let r = recorders.get(deps);
  if (!r) {
    const created: Recorder = { counts: new Map(), timer: setInterval(() => void flushApiRequestCounts(deps), flushIntervalMs) };
    // Never keeps a process (or a test) alive on its own.
    created.timer.unref();
    recorders.set(deps, created);
    r = created;
  }
  const minute = Math.floor(Date.now() / 60_000) * 60_000;
  const c = r.counts.get(minute) ?? { total: 0, errors5xx: 0 };
  c.total += 1;
  if (status >= 500) c.errors5xx += 1;
  r.counts.set(minute, c);
}

export async function flushApiRequestCounts(deps: Pick<Deps, 'db' | 'logger'>): Promise<void> {
  const r = recorders.get(deps);
  if (!r || r.counts.size === 0) return;
  const rows = [...r.counts].map(([minute, c]) => ({ minute: new Date(minute), ...c }));
  r.counts.clear();
  try {
    await addApiRequestCounts(deps.db, rows);
  } catch (err) {
    deps.logger.debug({ err }, 'api request counts not stored');
  }
}
