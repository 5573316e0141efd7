import type { AuditEventTypeV2 } from '@mc/shared/audit-event';
import { appendAuditEvents } from '../audit/audit-writer.ts';
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
 * change does: a row of `execution_transitions` (the execution's history) and an `mc.events.v2`
 * audit event (the hash-chained trail and the event bus).
 */
export async function recordTransition(tx: Queryable, ...records: TransitionRecord[]): Promise<void> {
  const tenantOf = (r: TransitionRecord) => {
    const tenantId = r.execution?.tenantId ?? r.tenantId;
    if (!tenantId) throw new Error(`transition ${r.type} names no tenant`);
    return tenantId;
  };
  await appendAuditEvents(
    tx,
    records.map((r) => ({
      tenantId: tenantOf(r),
      type: r.type,
      actor: { sub: r.actorSub },
      subject: { ...(r.execution ? { executionId: r.execution.id } : {}), ...(typeof r.data?.workflowId === 'string' ? { workflowId: r.data.workflowId } : {}) },
      data: { ...(r.data ?? {}), ...(r.scheduleId ? { scheduleId: r.scheduleId } : {}), ...(r.from ? { from: r.from } : {}), ...(r.to ? { to: r.to } : {}) },
    })),
  );
  await appendTransitions(
    tx,
    records.map((r) => {
      const tenantId = tenantOf(r);
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
