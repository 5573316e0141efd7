import { sql } from 'drizzle-orm';
import type { Queryable } from '../db/client.ts';
import { executions } from '../db/schema.ts';

export interface ReceiptBacklog {
  /** Executions that have finished and wait for their receipt to be stored. */
  pending: number;
  /** Seconds since the oldest of them finished (0 when none). */
  oldestAgeSeconds: number;
}

/**
 * What `mc_receipts_pending` and `mc_receipts_pending_oldest_age_seconds` report: during an
 * object-store outage runs pile up in `receipt_pending` (the receipt job retries, the sweeper
 * re-enqueues it), and this is how an operator sees it. Served by `executions_status_idx`.
 */
export async function receiptBacklog(db: Queryable): Promise<ReceiptBacklog> {
  const [row] = await db
    .select({
      pending: sql<number>`count(*)::int`,
      oldest: sql<number | null>`extract(epoch from (now() - min(${executions.finishedAt})))::float8`,
    })
    .from(executions)
    .where(sql`${executions.status} = 'receipt_pending'`);
  return { pending: Number(row?.pending ?? 0), oldestAgeSeconds: Math.max(0, Number(row?.oldest ?? 0)) };
}
