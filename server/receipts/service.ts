import { AppError } from '@mc/shared/errors';
import { verifyReceiptBundle } from '@mc/shared/receipt-verification';
import type { Actor } from '@mc/shared/actor';
import type { Deps } from '../deps.ts';
import { findExecution } from '../executions/repository.ts';
import * as repo from './repository.ts';
import { receiptVerificationFailuresTotal } from '../observability/metrics.ts';

export interface ReceiptResponse {
  /** The signed in-toto statement, as JSON. */
  receipt: unknown;
  /** The Sigstore bundle (v0.3, DSSE) exactly as stored. */
  bundle: unknown;
  digest: string;
  storedUri: string;
  verified: boolean;
}

/**
 * The receipt of an execution. For one still in flight, waits (bounded) for it rather than
 * failing, so a script can start and then fetch in two calls.
 */
export async function getReceipt(deps: Deps, executionId: string, actor: Pick<Actor, 'tenantId'>, waitMs = deps.config.MC_RECEIPT_WAIT_MS): Promise<ReceiptResponse> {
  const deadline = Date.now() + waitMs;
  let delay = 25;
  for (;;) {
    // The execution first: a receipt is only found through an execution of the caller's tenant.
    const execution = await findExecution(deps.db, executionId, actor.tenantId);
    if (!execution) throw new AppError('NOT_FOUND', `execution ${executionId} not found`);
    const row = await repo.findReceipt(deps.db, executionId);
    if (row) return { ...(await readStored(deps, row)), verified: row.verified };
    if (Date.now() >= deadline) {
      throw new AppError('TIMEOUT', `no receipt yet: execution ${executionId} is ${execution.status}; retry later`, {
        details: { status: execution.status },
        retryAfterSeconds: 2,
      });
    }
    await Bun.sleep(Math.min(delay, Math.max(0, deadline - Date.now())));
    delay = Math.min(delay * 2, 500);
  }
}

async function readStored(deps: Deps, row: repo.ReceiptRow): Promise<Omit<ReceiptResponse, 'verified'>> {
  const bytes = await deps.objectStore.getObject(row.bucket, row.objectKey);
  if (!bytes) throw new AppError('UNAVAILABLE', `receipt object ${row.storedUri} is missing from the object store`);
  return { receipt: row.receiptJson, bundle: JSON.parse(new TextDecoder().decode(bytes)), digest: row.digest, storedUri: row.storedUri };
}

export interface ReceiptVerificationResult {
  executionId: string;
  verified: boolean;
  digest: string | null;
  keyId: string;
  /** Why verification failed, naming the first thing that did. */
  reason: string | null;
}

/** Re-reads the stored bundle and verifies it now, against this server's public key(s). */
export async function verifyReceipt(deps: Deps, executionId: string, actor: Pick<Actor, 'tenantId'>): Promise<ReceiptVerificationResult> {
  if (!(await findExecution(deps.db, executionId, actor.tenantId))) throw new AppError('NOT_FOUND', `execution ${executionId} not found`);
  const row = await repo.findReceipt(deps.db, executionId);
  if (!row) throw new AppError('NOT_FOUND', `execution ${executionId} has no receipt yet`);
  const bytes = await deps.objectStore.getObject(row.bucket, row.objectKey);
  const keys = [{ keyId: deps.signingKey.keyId, publicKeyPem: deps.signingKey.publicKeyPem }];
  if (!bytes) {
    receiptVerificationFailuresTotal.inc({ where: 'verify' });
    return { executionId, verified: false, digest: row.digest, keyId: row.keyId, reason: `stored object ${row.storedUri} is missing` };
  }
  let bundle: unknown;
  try {
    bundle = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    receiptVerificationFailuresTotal.inc({ where: 'verify' });
    return { executionId, verified: false, digest: row.digest, keyId: row.keyId, reason: 'stored bundle is not valid JSON' };
  }
  const result = await verifyReceiptBundle(bundle, keys, { executionId, digest: row.digest });
  if (!result.ok) receiptVerificationFailuresTotal.inc({ where: 'verify' });
  return result.ok
    ? { executionId, verified: true, digest: result.digest, keyId: row.keyId, reason: null }
    : { executionId, verified: false, digest: row.digest, keyId: row.keyId, reason: result.reason };
}

export function publicKeys(deps: Pick<Deps, 'signingKey'>) {
  return { keys: [{ keyId: deps.signingKey.keyId, algorithm: 'ECDSA_P256_SHA256', publicKeyPem: deps.signingKey.publicKeyPem }] };
}
