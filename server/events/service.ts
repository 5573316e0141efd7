import type { Actor } from '@mc/shared/actor';
import type { Deps } from '../deps.ts';
import { listAuditEvents, type AuditEventView } from '../audit/service.ts';

/**
 * Consumers of mc.events.v1 over the API (`events.list`, `events.subscribe`, `GET /api/events`):
 * the caller's tenant's audit events by `seq`, the same service as `audit.list`. `seq` order is
 * commit order (audit-writer.ts holds the chain lock from insert to commit), so a reader that
 * has seen up to N never misses a row committed later with a smaller seq.
 */
export { listAuditEvents as listEvents };

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * The tenant's events after `after`, then each new one as it commits, until `signal` aborts.
 * New events are found by reading Postgres every MC_EVENTS_POLL_MS (one indexed query per open
 * stream), which keeps a subscriber independent of Redis; see TELEMETRY.md for the trade-off.
 */
export async function* followEvents(
  deps: Deps,
  actor: Pick<Actor, 'tenantId'>,
  opts: { after: number; type?: string | undefined; signal?: AbortSignal | undefined },
): AsyncGenerator<AuditEventView> {
  let after = opts.after;
  while (!opts.signal?.aborted) {
    const page = await listAuditEvents(deps, { limit: 200, after, ...(opts.type ? { type: opts.type } : {}) }, actor);
    for (const item of page.items) {
      if (opts.signal?.aborted) return;
      yield item;
      after = item.seq;
    }
    if (page.nextAfter === null) await sleep(deps.config.MC_EVENTS_POLL_MS, opts.signal);
  }
}
