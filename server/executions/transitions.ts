import type { AuditEventTypeV2 } from '@mc/shared/audit-event';
import type { Queryable } from '../db/client.ts';
import { appendTransitions } from './repository.ts';

export interface TransitionRecord {
  type: AuditEventTypeV2;
  /** The execution it is about, or (for schedule transitions) only the tenant. */
  execution?: { id: string; tenantId: string };
  tenantId?: string;
  scheduleId?: string;
  from?: string | null;
  to?: string | null;
  actorSub: string;
  data?: Record<string, unknown>;
}

/**
 * Records a control-flow transition on the caller's transaction, so it exists exactly when the
 * change does. The types are the ones proposed for `mc.events.v2` (shared/audit-event.ts).
 */
export async function recordTransition(tx: Queryable, ...records: TransitionRecord[]): Promise<void> {
  await appendTransitions(
    tx,
    records.map((r) => {
      const tenantId = r.execution?.tenantId ?? r.tenantId;
      if (!tenantId) throw new Error(`transition ${r.type} names no tenant`);
      return {
        tenantId,
        type: r.type,
        executionId: r.execution?.id ?? null,
        scheduleId: r.scheduleId ?? null,
        fromStatus: r.from ?? null,
        toStatus: r.to ?? null,
        actorSub: r.actorSub,
        data: r.data ?? {},
      };
    }),
  );
}
