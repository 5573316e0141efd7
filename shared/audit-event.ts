import { z } from 'zod';

/** Spec §4 (`mc.events.v1`): the shape of every audit event. More types only by a versioned schema change. */
export const auditEventTypes = [
  'mc.workflow.published',
  'mc.execution.started',
  'mc.execution.receipt.signed',
  'mc.policy.decision',
  'mc.release.rollback',
] as const;
export type AuditEventType = (typeof auditEventTypes)[number];

export const auditEventSchema = z.object({
  id: z.string().min(1),
  ts: z.iso.datetime({ offset: true }),
  type: z.enum(auditEventTypes),
  actor: z.object({ sub: z.string().optional(), ip: z.string().optional() }),
  subject: z.object({ workflowId: z.string().optional(), executionId: z.string().optional() }),
  data: z.record(z.string(), z.unknown()),
});
export type AuditEvent = z.infer<typeof auditEventSchema>;
