import { randomUUID } from 'node:crypto';
import { auditEventSchema, type AuditEvent, type AuditEventType } from '@mc/shared/audit-event';
import type { Queryable } from '../db/client.ts';
import { auditEvents } from '../db/schema.ts';

export interface AuditEventDraft {
  type: AuditEventType;
  actor: AuditEvent['actor'];
  subject: AuditEvent['subject'];
  data: Record<string, unknown>;
}

/**
 * Appends audit events on the caller's transaction, so an event exists exactly when the change
 * it records does. Each event is validated against the spec's schema before it is written.
 */
export async function appendAuditEvents(tx: Queryable, drafts: readonly AuditEventDraft[]): Promise<AuditEvent[]> {
  if (drafts.length === 0) return [];
  const now = new Date().toISOString();
  const events = drafts.map((d) => auditEventSchema.parse({ id: randomUUID(), ts: now, ...d }));
  await tx.insert(auditEvents).values(
    events.map((e) => ({
      id: e.id,
      ts: new Date(e.ts),
      type: e.type,
      actor: e.actor,
      subject: e.subject,
      data: e.data,
      workflowId: e.subject.workflowId ?? null,
      executionId: e.subject.executionId ?? null,
    })),
  );
  return events;
}
