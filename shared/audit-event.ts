import { z } from 'zod';

/**
 * Spec §4 (`mc.events.v1`): the shape of every audit event and its five types. More types only by
 * a versioned schema change: `mc.events.v2` (docs/audit/mc-events.v2.json) keeps the shape and
 * adds the types below. A v1-typed event is checked against v1, any other against v2.
 */
export const auditEventTypes = [
  'mc.workflow.published',
  'mc.execution.started',
  'mc.execution.receipt.signed',
  'mc.policy.decision',
  'mc.release.rollback',
] as const;
/**
 * The types `mc.events.v2` adds: execution control flow and schedules (each transition is also a
 * row of `execution_transitions`, for per-execution history), and data lifecycle.
 */
export const auditEventTypesV2 = [
  'mc.execution.queued',
  'mc.execution.admitted',
  'mc.execution.paused',
  'mc.execution.resumed',
  'mc.execution.cancelled',
  'mc.execution.rejected',
  'mc.execution.finished',
  'mc.execution.rerun',
  'mc.execution.signal.received',
  'mc.execution.approval.recorded',
  'mc.execution.step.orphaned',
  'mc.schedule.created',
  'mc.schedule.paused',
  'mc.schedule.resumed',
  'mc.schedule.deleted',
  'mc.schedule.fired',
  'mc.execution.erased',
  'mc.data.retention.purged',
] as const;
export type AuditEventTypeV1 = (typeof auditEventTypes)[number];
export type AuditEventTypeV2 = (typeof auditEventTypesV2)[number];
export type AuditEventType = AuditEventTypeV1 | AuditEventTypeV2;
export const isV1EventType = (type: string): type is AuditEventTypeV1 => (auditEventTypes as readonly string[]).includes(type);

export const auditEventSchema = z.object({
  id: z.string().min(1),
  ts: z.iso.datetime({ offset: true }),
  type: z.enum([...auditEventTypes, ...auditEventTypesV2]),
  actor: z.object({ sub: z.string().optional(), ip: z.string().optional() }),
  subject: z.object({ workflowId: z.string().optional(), executionId: z.string().optional() }),
  data: z.record(z.string(), z.unknown()),
});
export type AuditEvent = z.infer<typeof auditEventSchema>;
