import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Deps } from '../deps.ts';
import { appendAuditEvents } from '../audit/audit-writer.ts';
import { findTenantByName } from '../identity/repository.ts';
import { defaultTenantName } from '../identity/service.ts';
import { deleteLogsBefore, insertRetentionRun } from './repository.ts';

/**
 * TTL jobs (spec §3 "Retain / Delete"; docs/data/MC_DATA_LIFECYCLE.md). Run by the worker's
 * `mc-maintenance` job scheduler (worker/retention-jobs.ts).
 *
 * - Step logs older than MC_LOG_RETENTION_DAYS are deleted in batches; each batch is recorded in
 *   `retention_runs` and as an `mc.data.retention.purged` audit event (mc.events.v2), in the same
 *   transaction as its delete.
 * - Receipts are never deleted by a TTL job: they are kept at least MC_RECEIPT_RETENTION_DAYS
 *   (7 years), enforced by the object store itself (S3 Object Lock COMPLIANCE; the filesystem
 *   store refuses the delete), and removing one after that is a deliberate operator action.
 */
export interface RetentionOutcome {
  runId: string;
  cutoff: Date;
  deleted: number;
  batches: number;
}

const runner = `${hostname()}/${process.pid}`;

export async function purgeExpiredLogs(deps: Pick<Deps, 'db' | 'config' | 'logger'>, now = new Date()): Promise<RetentionOutcome> {
  const days = deps.config.MC_LOG_RETENTION_DAYS;
  const limit = deps.config.MC_RETENTION_BATCH_SIZE;
  const cutoff = new Date(now.getTime() - days * 86_400_000);
  const runId = randomUUID();
  const platformTenantId = (await findTenantByName(deps.db, defaultTenantName))?.id ?? null;
  let deleted = 0;
  let batch = 0;
  for (;;) {
    const startedAt = new Date();
    const n = await deps.db.transaction(async (tx) => {
      const count = await deleteLogsBefore(tx, cutoff, limit);
      // A run that found nothing still leaves one row: evidence that the job ran.
      if (count > 0 || batch === 0) {
        await insertRetentionRun(tx, { runId, kind: 'step_logs', cutoff, retentionDays: days, batch, deleted: count, runner, startedAt });
        // Retention runs across tenants: its events belong to the platform's (default) tenant.
        if (platformTenantId) {
          await appendAuditEvents(tx, [
            { tenantId: platformTenantId, type: 'mc.data.retention.purged', actor: { sub: `runner:${runner}` }, subject: {}, data: { runId, kind: 'step_logs', cutoff: cutoff.toISOString(), retentionDays: days, batch, deleted: count } },
          ]);
        }
      }
      return count;
    });
    deleted += n;
    batch += 1;
    if (n < limit) break;
  }
  if (deleted > 0) deps.logger.info({ runId, cutoff: cutoff.toISOString(), deleted, batches: batch }, 'expired step logs deleted');
  return { runId, cutoff, deleted, batches: batch };
}
