import { z } from 'zod';
import { idSchema } from './api.ts';

/**
 * Data lifecycle shapes shared by server, CLI and web (docs/data/MC_DATA_LIFECYCLE.md).
 * `executions.erase` (tRPC) and `POST /api/executions/:id/erase` (REST) take this input.
 */
export const eraseExecutionInputSchema = z.strictObject({
  id: idSchema,
  /** Why (a data-subject request id, a ticket): kept in the erasure trail. */
  reason: z.string().trim().min(1).max(500).optional(),
});
export type EraseExecutionInput = z.infer<typeof eraseExecutionInputSchema>;

export interface ErasureResult {
  executionId: string;
  erasedAt: Date;
  erasedBy: string;
  /** true when the execution had been erased before this call (erase is idempotent). */
  alreadyErased: boolean;
}
