import { z } from 'zod';
import { regionSchema } from './manifest.ts';

/** Request and response shapes of the API: the tRPC inputs, the REST bodies, the CLI's and dashboard's types. */

export const idSchema = z.uuid({ message: 'must be a UUID' });

export const pageInputSchema = z.strictObject({
  limit: z.number().int().min(1).max(200).default(50),
  /** Opaque cursor from the previous page's `nextCursor`. */
  cursor: z.string().max(200).nullish(),
});

export const workflowListInputSchema = pageInputSchema.extend({
  name: z.string().max(100).optional(),
  status: z.enum(['draft', 'published']).optional(),
});

/**
 * `receipt_pending`: finished, its terminal status decided (the execution's `outcome`) and taken
 * once the signed receipt is stored — neither active (quotas do not count it) nor terminal.
 */
export const executionStatusSchema = z.enum(['queued', 'pending', 'running', 'paused', 'receipt_pending', 'succeeded', 'failed', 'cancelled', 'rejected', 'rolled_back']);
export type ExecutionStatus = z.infer<typeof executionStatusSchema>;
/** Terminal: the receipt is stored. */
export const terminalExecutionStatuses: readonly ExecutionStatus[] = ['succeeded', 'failed', 'cancelled', 'rejected', 'rolled_back'];
/** Queue priority of an execution's tasks: the manifest's, unless the request names one. */
export const executionPrioritySchema = z.enum(['high', 'normal', 'low']);

export const executionListInputSchema = pageInputSchema.extend({
  workflowId: idSchema.optional(),
  status: executionStatusSchema.optional(),
});

export const startExecutionInputSchema = z
  .strictObject({
    /** A version to run: exactly one of `workflowId` and `workflowName`. */
    workflowId: idSchema.optional(),
    /** A workflow by name: its release routes the request to the stable or the canary version (server/releases/). */
    workflowName: z.string().min(1).max(100).optional(),
    /** Routes a request by name deterministically (the same key, the same version); defaults to `idempotencyKey`, else random. */
    routingKey: z.string().min(1).max(200).optional(),
    /** Read by tasks through `${{ inputs.<name> }}` in their `with`. */
    inputs: z.record(z.string(), z.unknown()).default({}),
    /** The request's region; defaults to the workflow's. */
    region: regionSchema.optional(),
    /** A second start with the same key returns the first execution instead of starting another. */
    idempotencyKey: z.string().min(1).max(200).optional(),
    /** With `workflowId`: 'canary' enters that version as its workflow's canary (starting a release if none is active). */
    rollout: z.enum(['canary', 'stable']).optional(),
    /** Overrides the manifest's `priority`. */
    priority: executionPrioritySchema.optional(),
  })
  .refine((v) => (v.workflowId === undefined) !== (v.workflowName === undefined), { message: 'give exactly one of workflowId and workflowName', path: ['workflowId'] })
  .refine((v) => !(v.workflowName !== undefined && v.rollout === 'canary'), { message: "rollout 'canary' names a version: use workflowId", path: ['rollout'] });
export type StartExecutionInput = z.input<typeof startExecutionInputSchema>;

/** cancel, pause, resume: who and why go on record. */
export const executionControlInputSchema = z.strictObject({ id: idSchema, reason: z.string().max(500).optional() });

export const executionSignalInputSchema = z.strictObject({
  id: idSchema,
  /** What `pkg:mc/wait-for-event` waits for: `with.event` and `with.key`. */
  event: z.string().min(1).max(100),
  key: z.string().max(200).default(''),
  payload: z.unknown().optional(),
});

export const executionApprovalInputSchema = z.strictObject({
  id: idSchema,
  /** The approval step; may be omitted when exactly one step is waiting for approval. */
  taskId: z.string().min(1).max(64).optional(),
  comment: z.string().max(1000).optional(),
});

export const executionRerunInputSchema = z.strictObject({ id: idSchema });

export const planInputSchema = z.strictObject({
  id: idSchema,
  inputs: z.record(z.string(), z.unknown()).default({}),
  region: regionSchema.optional(),
});

export const receiptWaitInputSchema = z.strictObject({
  executionId: idSchema,
  /** How long to wait for an in-flight execution's receipt; 0 answers at once. */
  waitMs: z.number().int().min(0).max(300_000).optional(),
});

export const verifyReceiptInputSchema = z.strictObject({ executionId: idSchema });

/** `events.subscribe`: from `after` (a seq), or after `lastEventId` (the tracked id httpSubscriptionLink sends on reconnect). */
export const eventSubscribeInputSchema = z.strictObject({
  after: z.number().int().min(0).default(0),
  lastEventId: z.string().regex(/^\d{1,18}$/).nullish(),
  type: z.string().max(100).optional(),
});

export const auditListInputSchema = z.strictObject({
  limit: z.number().int().min(1).max(500).default(100),
  /** Events after this sequence number (exclusive), oldest first; use the previous page's `nextAfter`. */
  after: z.number().int().min(0).default(0),
  type: z.string().max(100).optional(),
  workflowId: idSchema.optional(),
  executionId: idSchema.optional(),
});
