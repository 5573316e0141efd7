import type { Actor } from '@mc/shared/actor';
import { eraseExecutionInputSchema, type ErasureResult } from '@mc/shared/data-lifecycle';
import { AppError, validationError } from '@mc/shared/errors';
import type { Deps } from '../deps.ts';
import { isTerminalStatus } from '../executions/execution-outcome.ts';
import { findExecution } from '../executions/repository.ts';
import { appendAuditEvents } from '../audit/audit-writer.ts';
import { destroyDataKey, findErasure, insertErasure } from './data-key-repository.ts';

/**
 * Cryptographic erase of an execution (spec §3 "Delete"): its data key is destroyed, so its
 * inputs, task outputs and signal payloads — inline in Postgres, in the payload bucket, in any
 * backup — can no longer be decrypted by anyone; reads return `{ erased: true }`. Its receipt
 * and disclosure pack hold digests only and still verify. Only a terminal execution can be erased
 * (a running one still needs its payloads). The erasure is recorded in `data_erasures`.
 */
export async function eraseExecution(deps: Deps, raw: unknown, actor: Pick<Actor, 'tenantId' | 'sub'>): Promise<ErasureResult> {
  const parsed = eraseExecutionInputSchema.safeParse(raw);
  if (!parsed.success) throw validationError(parsed.error, 'erase request');
  const { id, reason } = parsed.data;
  const execution = await findExecution(deps.db, id, actor.tenantId);
  if (!execution) throw new AppError('NOT_FOUND', `execution ${id} not found`);
  if (execution.status === 'receipt_pending') {
    // The receipt is built from the execution's records: erase once it is stored.
    throw new AppError('CONFLICT', `execution ${id} has finished (${execution.outcome}) but its receipt is still being stored; erase it once the receipt is stored`, {
      details: { status: execution.status, outcome: execution.outcome },
      retryAfterSeconds: 2,
    });
  }
  if (!isTerminalStatus(execution.status)) {
    throw new AppError('CONFLICT', `execution ${id} is ${execution.status}; only a finished execution can be erased`, { details: { status: execution.status } });
  }
  const result = await deps.db.transaction(async (tx) => {
    const destroyed = await destroyDataKey(tx, id);
    if (!destroyed) return null;
    const erasure = await insertErasure(tx, { tenantId: execution.tenantId, executionId: id, actorSub: actor.sub, reason: reason ?? null, masterKeyId: destroyed.masterKeyId });
    await appendAuditEvents(tx, [
      { tenantId: execution.tenantId, type: 'mc.execution.erased', actor: { sub: actor.sub }, subject: { workflowId: execution.workflowId, executionId: id }, data: { reason: reason ?? null, masterKeyId: destroyed.masterKeyId } },
    ]);
    return erasure;
  });
  if (result) {
    deps.logger.info({ 'exec.id': id, 'actor.sub': actor.sub }, 'execution payloads cryptographically erased');
    return { executionId: id, erasedAt: result.createdAt, erasedBy: result.actorSub, alreadyErased: false };
  }
  const previous = await findErasure(deps.db, id);
  if (!previous) throw new AppError('CONFLICT', `execution ${id} has no data key to erase (it predates payload encryption)`);
  return { executionId: id, erasedAt: previous.createdAt, erasedBy: previous.actorSub, alreadyErased: true };
}
