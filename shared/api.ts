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

export const executionStatusSchema = z.enum(['pending', 'running', 'succeeded', 'failed', 'rolled_back']);

export const executionListInputSchema = pageInputSchema.extend({
  workflowId: idSchema.optional(),
  status: executionStatusSchema.optional(),
});

export const startExecutionInputSchema = z.strictObject({
  workflowId: idSchema,
  /** Read by tasks through `${{ inputs.<name> }}` in their `with`. */
  inputs: z.record(z.string(), z.unknown()).default({}),
  /** The request's region; defaults to the workflow's. */
  region: regionSchema.optional(),
  /** A second start with the same key returns the first execution instead of starting another. */
  idempotencyKey: z.string().min(1).max(200).optional(),
  /** Accepted and recorded; releases give 'canary' its routing meaning. */
  rollout: z.enum(['canary', 'stable']).optional(),
});
export type StartExecutionInput = z.input<typeof startExecutionInputSchema>;

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

export const auditListInputSchema = z.strictObject({
  limit: z.number().int().min(1).max(500).default(100),
  /** Events after this sequence number (exclusive), oldest first; use the previous page's `nextAfter`. */
  after: z.number().int().min(0).default(0),
  type: z.string().max(100).optional(),
  workflowId: idSchema.optional(),
  executionId: idSchema.optional(),
});
