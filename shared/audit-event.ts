import { z } from 'zod';

/** Spec §4 (`mc.events.v1`): the shape of every audit event. More types only by a versioned schema change. */
export const auditEventTypes = [
  'mc.workflow.published',
  'mc.execution.started',
  'mc.execution.receipt.signed',
  'mc.policy.decision',
  'mc.release.rollback',
] as const;
/**
 * Proposed for `mc.events.v2` (issue 11, execution control flow), kept apart from the v1 list
 * until the versioned schema change is decided. Until then the engine records each transition in
 * its own table (`execution_transitions`, typed with these names), not in the audit chain, whose
 * writer accepts v1 types only. See docs/architecture/execution-engine.md.
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
] as const;
export type AuditEventType = (typeof auditEventTypes)[number];
export type AuditEventTypeV2 = (typeof auditEventTypesV2)[number];

export const auditEventSchema = z.object({
  id: z.string().min(1),
  ts: z.iso.datetime({ offset: true }),
  type: z.enum(auditEventTypes),
  actor: z.object({ sub: z.string().optional(), ip: z.string().optional() }),
  subject: z.object({ workflowId: z.string().optional(), executionId: z.string().optional() }),
  data: z.record(z.string(), z.unknown()),
});
export type AuditEvent = z.infer<typeof auditEventSchema>;
