import { hostname } from 'node:os';
import { buildStatement, type ReceiptFacts, type ReceiptStatement } from '@mc/shared/receipt-statement';
import { signatureHolds, signStatement, type SignedReceipt, type SigningKey } from '@mc/shared/receipt-signing';
import { verifyReceiptBundle } from '@mc/shared/receipt-verification';
import { appendAuditEvents } from '../audit/audit-writer.ts';
import type { Queryable } from '../db/client.ts';
import type { Deps } from '../deps.ts';
import { finalStatusOf } from '../executions/execution-outcome.ts';
import * as executionsRepo from '../executions/repository.ts';
import { findDecisionsForExecution } from '../policy/decision-repository.ts';
import { findPublishedWorkflowCached } from '../workflows/repository.ts';
import { receiptBucket } from '../storage/object-store.ts';
import { receiptsSignedTotal, receiptVerificationFailuresTotal } from '../observability/metrics.ts';
import { mcVersion } from '../version.ts';
import * as repo from './repository.ts';

export const receiptObjectKey = (executionId: string) => `receipts/${executionId}.sigstore.json`;
const runner = { id: `${hostname()}/${process.pid}`, version: mcVersion };
// Per store instance: a process (a test run) may hold several stores with the same bucket names.
const ensuredBuckets = new WeakMap<object, Set<string>>();

export type IssueOutcome = 'issued' | 'exists' | 'not-terminal' | 'not-found';

/**
 * Builds, signs and stores the receipt of a finished (`receipt_pending`) execution, then records
 * it and, in the same transaction, moves the execution to its outcome: an execution is never
 * terminal without a stored receipt. Safe to run again at any point after a crash: the object
 * store is write-once, so a receipt already stored for this execution is verified and kept (the
 * retry's own signature is discarded, never stored), and a receipt row whose execution is still `receipt_pending`
 * only has the move done. Rows already terminal without a receipt (finished before
 * `receipt_pending` existed) get theirs too.
 */
export async function issueReceipt(deps: Deps, executionId: string, opts: { finished?: executionsRepo.ExecutionRow; steps?: executionsRepo.StepRow[] } = {}): Promise<IssueOutcome> {
  // Inputs stay sealed: a receipt states their digest, never their values. `finished`: the row as
  // the transaction that finished it returned it — its receipt is not stored yet (if a receipt job
  // raced this, write-once and the receipt row's key settle it below), so neither is read again.
  const [execution, receipt] = opts.finished
    ? [opts.finished, null]
    : await Promise.all([executionsRepo.findExecutionSealed(deps.db, executionId), repo.findReceipt(deps.db, executionId)]);
  if (!execution) return 'not-found';
  if (receipt) {
    if (execution.status === 'receipt_pending') await deps.db.transaction(async (tx) => recordSettled(tx, execution, await executionsRepo.settleReceiptPending(tx, execution.id), null));
    return 'exists';
  }
  // The status the receipt states: the outcome of a receipt_pending run (or the status of a legacy terminal one).
  const status = finalStatusOf(execution);
  if (!status) return 'not-terminal';
  if (status === 'cancelled' || status === 'rejected') {
    // Tasks told to stop get the grace period; the receipt records how each step ended, so it waits for them.
    const running = await executionsRepo.findRunningSteps(deps.db, executionId);
    if (running.length > 0) {
      const graceOver = (execution.finishedAt?.getTime() ?? 0) + deps.config.MC_CANCEL_GRACE_MS <= Date.now();
      if (!graceOver) return 'not-terminal';
      await executionsRepo.abandonRunningSteps(deps.db, executionId, `no answer within the ${deps.config.MC_CANCEL_GRACE_MS} ms cancel grace period; abandoned`);
    }
  }
  const [workflow, steps, decisions, approvals] = await Promise.all([
    findPublishedWorkflowCached(deps.db, execution.workflowId),
    // The steps as the finishing transaction read them, when it did (nothing moves them after).
    opts.steps ?? executionsRepo.findSteps(deps.db, executionId),
    findDecisionsForExecution(deps.db, executionId),
    executionsRepo.findApprovals(deps.db, executionId),
  ]);
  if (!workflow) return 'not-found';

  const facts: ReceiptFacts = {
    execution: {
      id: execution.id,
      status,
      region: execution.region,
      actor: { sub: execution.actorSub },
      idempotencyToken: execution.idempotencyKey ?? execution.id,
      createdAt: execution.createdAt.toISOString(),
      startedAt: execution.startedAt?.toISOString() ?? null,
      finishedAt: execution.finishedAt?.toISOString() ?? null,
      traceId: execution.traceId,
      rollout: execution.rollout,
      costUsd: execution.costUsd,
      ...(execution.rerunOf ? { rerunOf: execution.rerunOf } : {}),
    },
    workflow: { id: workflow.id, name: workflow.name, version: workflow.version, manifestDigest: workflow.manifestDigest },
    inputsDigest: execution.inputsDigest,
    outputsDigest: execution.outputsDigest ?? 'sha256:none',
    steps: steps.map((s) => ({
      taskId: s.taskId,
      uses: s.uses,
      status: s.status,
      attempts: s.attempts,
      startedAt: s.startedAt?.toISOString() ?? null,
      finishedAt: s.finishedAt?.toISOString() ?? null,
      durationMs: s.durationMs,
      outputDigest: s.outputDigest,
      error: s.error,
    })),
    policy: {
      bundleDigest: decisions[0]?.bundleDigest ?? null,
      decisions: decisions.map((d) => ({ decisionId: d.decisionId, pack: d.pack, allow: d.allow, reasons: d.reasons })),
    },
    runner,
    ...(approvals.length > 0
      ? {
          approvals: approvals.map((a) => ({
            taskId: a.taskId,
            actor: { sub: a.actorSub, role: a.actorRole },
            decision: a.decision,
            at: a.createdAt.toISOString(),
            comment: a.comment,
          })),
        }
      : {}),
  };

  const bucket = receiptBucket(execution.region);
  const key = receiptObjectKey(executionId);
  const ensured = ensuredBuckets.get(deps.objectStore) ?? new Set<string>();
  if (!ensured.has(bucket)) {
    await deps.objectStore.ensureBucket(bucket, { region: execution.region });
    ensured.add(bucket);
    ensuredBuckets.set(deps.objectStore, ensured);
  }
  // Write-once decides which receipt is the execution's: ours when the put created the object (no
  // read back: a successful put is the store's promise), else the one a crash or a racing worker
  // stored before — read back and verified in full, and ours (signed, never stored) discarded.
  const statement = buildStatement(facts);
  const signed = await signStatement(statement, deps.signingKey);
  const body = JSON.stringify(signed.bundle);
  const retainUntil = new Date(Date.now() + deps.config.MC_RECEIPT_RETENTION_DAYS * 86_400_000);
  const put = await deps.objectStore.putObjectOnce(bucket, key, body, { contentType: 'application/vnd.dev.sigstore.bundle.v0.3+json', retainUntil });
  const uri = deps.objectStore.uriOf(bucket, key);
  const stored = put.created ? ownReceipt(executionId, statement, signed, deps.signingKey) : await storedReceipt(deps, executionId, bucket, key);

  await deps.db.transaction(async (tx) => {
    // The receipt row and the move to the outcome go out together (pipelined on the transaction).
    const [inserted, settled] = await Promise.all([
      repo.insertReceipt(tx, {
        executionId,
        tenantId: execution.tenantId,
        receiptJson: stored.statement,
        digest: stored.digest,
        signature: stored.signature,
        keyId: deps.signingKey.keyId,
        storedUri: uri,
        bucket,
        objectKey: key,
        verified: true,
      }),
      executionsRepo.settleReceiptPending(tx, execution.id),
    ]);
    if (inserted) {
      receiptsSignedTotal.inc({ status });
      await appendAuditEvents(tx, [
        {
          tenantId: execution.tenantId,
          type: 'mc.execution.receipt.signed',
          actor: { sub: `runner:${runner.id}` },
          subject: { workflowId: workflow.id, executionId },
          data: { digest: stored.digest, storedUri: uri, keyId: deps.signingKey.keyId, status },
        },
      ]);
    }
    await recordSettled(tx, execution, settled, stored.digest);
  });
  return 'issued';
}

/**
 * `receipt_pending` → its outcome (`settleReceiptPending`), on the transaction that recorded the
 * receipt (or, repairing, on its own when the receipt row exists already): the history row saying
 * so, when it moved. The audit event for it is the `mc.execution.receipt.signed` written with the
 * receipt row, so only the transition row is added here.
 */
async function recordSettled(tx: Queryable, execution: executionsRepo.ExecutionRow, settled: executionsRepo.ExecutionRow | null, digest: string | null): Promise<void> {
  if (!settled) return;
  await executionsRepo.appendTransitions(tx, [
    {
      tenantId: execution.tenantId,
      type: 'mc.execution.receipt.signed',
      executionId: execution.id,
      fromStatus: 'receipt_pending',
      toStatus: settled.status,
      actorSub: `runner:${runner.id}`,
      data: digest ? { digest } : { repaired: 'the receipt was stored before; only the status had not moved' },
    },
  ]);
}

interface RecordedReceipt {
  statement: ReceiptStatement;
  digest: string;
  signature: string;
}

/**
 * The put created the object: the stored bytes are the ones just signed, so the statement and
 * digest are known, and one ECDSA verify checks the signature (a fault in the key or the signer
 * fails the issue here, before anything is recorded).
 */
function ownReceipt(executionId: string, statement: ReceiptStatement, signed: SignedReceipt, key: SigningKey): RecordedReceipt {
  if (!signatureHolds(signed, key)) {
    receiptVerificationFailuresTotal.inc({ where: 'issue' });
    throw new Error(`receipt for ${executionId}: its signature does not verify with the signing key`);
  }
  return { statement, digest: signed.digest, signature: signed.signature };
}

/** Another delivery stored this execution's receipt first: it is read back and verified in full, and kept. */
async function storedReceipt(deps: Deps, executionId: string, bucket: string, key: string): Promise<RecordedReceipt> {
  const bytes = await deps.objectStore.getObject(bucket, key);
  if (!bytes) throw new Error(`receipt for ${executionId} exists in ${bucket}/${key} but cannot be read`);
  const bundle: unknown = JSON.parse(new TextDecoder().decode(bytes));
  const keys = [{ keyId: deps.signingKey.keyId, publicKeyPem: deps.signingKey.publicKeyPem }];
  const verification = await verifyReceiptBundle(bundle, keys, { executionId });
  if (!verification.ok) {
    receiptVerificationFailuresTotal.inc({ where: 'issue' });
    throw new Error(`stored receipt for ${executionId} does not verify: ${verification.reason}`);
  }
  return { statement: verification.statement, digest: verification.digest, signature: signatureOf(bundle) };
}

function signatureOf(bundle: unknown): string {
  const sig = (bundle as { dsseEnvelope?: { signatures?: { sig?: unknown }[] } }).dsseEnvelope?.signatures?.[0]?.sig;
  return typeof sig === 'string' ? sig : '';
}
