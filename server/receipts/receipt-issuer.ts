import { hostname } from 'node:os';
import { buildStatement, type ReceiptFacts, type ReceiptStatement } from '@mc/shared/receipt-statement';
import { signatureHolds, signStatement, type SignedReceipt, type SigningKey } from '@mc/shared/receipt-signing';
import { verifyReceiptBundle } from '@mc/shared/receipt-verification';
import { appendAuditEvents } from '../audit/audit-writer.ts';
import type { Queryable } from '../db/client.ts';
import type { Deps } from '../deps.ts';
import { finalStatusOf } from '../executions/execution-outcome.ts';
import * as executionsRepo from '../executions/repository.ts';
import { findDecisionsForExecutions, type PolicyDecisionRow } from '../policy/decision-repository.ts';
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

/** A finished execution whose receipt is asked for; `finished` and `steps` as `issueReceipt` takes them. */
export interface ReceiptRequest {
  executionId: string;
  finished?: executionsRepo.ExecutionRow;
  steps?: executionsRepo.StepRow[];
}

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
  const [result] = await issueReceipts(deps, [{ executionId, ...opts }]);
  if (result!.status === 'rejected') throw result!.reason;
  return result!.value;
}

/**
 * `issueReceipt` for several executions at once, with what they need read together (decisions,
 * approvals, steps: one statement each) and recorded in one transaction (receipt rows, moves to
 * the outcome, their audit events and history rows). Each receipt is still built, signed and
 * stored on its own, and each request settles on its own: one that fails (its put, say) fails
 * alone; what all share (the reads, the recording transaction) fails all it covered.
 */
export async function issueReceipts(deps: Deps, requests: readonly ReceiptRequest[]): Promise<PromiseSettledResult<IssueOutcome>[]> {
  const prepared = await Promise.allSettled(requests.map((r) => prepare(deps, r)));
  const ready = prepared.flatMap((p, i) => (p.status === 'fulfilled' && typeof p.value === 'object' ? [{ index: i, ...p.value }] : []));
  const results: PromiseSettledResult<IssueOutcome>[] = prepared.map((p) =>
    p.status === 'rejected' ? p : typeof p.value === 'string' ? { status: 'fulfilled', value: p.value } : { status: 'fulfilled', value: 'issued' },
  );
  if (ready.length === 0) return results;
  const fail = (indexes: readonly number[], reason: unknown) => {
    for (const i of indexes) results[i] = { status: 'rejected', reason };
  };
  try {
    const ids = ready.map((r) => r.execution.id);
    // The steps as the finishing transaction read them, when it did (nothing moves them after).
    const unread = ready.filter((r) => !r.steps).map((r) => r.execution.id);
    const [decisions, approvals, steps, workflows] = await Promise.all([
      findDecisionsForExecutions(deps.db, ids),
      executionsRepo.findApprovalsOfExecutions(deps.db, ids),
      executionsRepo.findStepsOfExecutions(deps.db, unread),
      Promise.all(ready.map((r) => findPublishedWorkflowCached(deps.db, r.execution.workflowId))),
    ]);
    const stored = await Promise.allSettled(
      ready.map(async (r, n) => {
        const workflow = workflows[n];
        if (!workflow) return null;
        const facts = factsOf(r.execution, r.status, workflow, r.steps ?? steps.get(r.execution.id) ?? [], decisions.get(r.execution.id) ?? [], approvals.get(r.execution.id) ?? []);
        return { ...r, workflow, ...(await signAndStore(deps, r.execution, facts)) };
      }),
    );
    const toRecord = stored.flatMap((s, n) => {
      const { index } = ready[n]!;
      if (s.status === 'rejected') fail([index], s.reason);
      else if (s.value === null) results[index] = { status: 'fulfilled', value: 'not-found' };
      else return [s.value];
      return [];
    });
    if (toRecord.length > 0) {
      await recordReceipts(deps, toRecord).catch((err: unknown) => fail(toRecord.map((r) => r.index), err));
    }
  } catch (err) {
    fail(
      ready.map((r) => r.index),
      err,
    );
  }
  return results;
}

interface ReadyToIssue {
  execution: executionsRepo.ExecutionRow;
  /** The status the receipt states: the outcome of a receipt_pending run (or the status of a legacy terminal one). */
  status: NonNullable<ReturnType<typeof finalStatusOf>>;
  steps?: executionsRepo.StepRow[];
}

/** What one request needs before its receipt is built, or the outcome that ends it here. */
async function prepare(deps: Deps, request: ReceiptRequest): Promise<IssueOutcome | ReadyToIssue> {
  const { executionId } = request;
  // Inputs stay sealed: a receipt states their digest, never their values. `finished`: the row as
  // the transaction that finished it returned it — its receipt is not stored yet (if a receipt job
  // raced this, write-once and the receipt row's key settle it below), so neither is read again.
  const [execution, receipt] = request.finished
    ? [request.finished, null]
    : await Promise.all([executionsRepo.findExecutionSealed(deps.db, executionId), repo.findReceipt(deps.db, executionId)]);
  if (!execution) return 'not-found';
  if (receipt) {
    if (execution.status === 'receipt_pending') await deps.db.transaction(async (tx) => recordSettled(tx, await executionsRepo.settleReceiptsPending(tx, [execution.id]), new Map()));
    return 'exists';
  }
  const status = finalStatusOf(execution);
  if (!status) return 'not-terminal';
  if (status === 'cancelled' || status === 'rejected') {
    // Tasks told to stop get the grace period; the receipt records how each step ended, so it waits for them.
    const running = await executionsRepo.findRunningSteps(deps.db, executionId);
    if (running.length > 0) {
      const graceOver = (execution.finishedAt?.getTime() ?? 0) + deps.config.MC_CANCEL_GRACE_MS <= Date.now();
      if (!graceOver) return 'not-terminal';
      await executionsRepo.abandonRunningSteps(deps.db, executionId, `no answer within the ${deps.config.MC_CANCEL_GRACE_MS} ms cancel grace period; abandoned`);
      // The steps were read before the abandon moved some: read again.
      return { execution, status };
    }
  }
  return { execution, status, ...(request.steps ? { steps: request.steps } : {}) };
}

function factsOf(
  execution: executionsRepo.ExecutionRow,
  status: ReadyToIssue['status'],
  workflow: NonNullable<Awaited<ReturnType<typeof findPublishedWorkflowCached>>>,
  steps: readonly executionsRepo.StepRow[],
  decisions: readonly PolicyDecisionRow[],
  approvals: readonly executionsRepo.ApprovalRow[],
): ReceiptFacts {
  return {
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
}

/**
 * Signs the receipt and stores it write-once. Write-once decides which receipt is the
 * execution's: ours when the put created the object (no read back: a successful put is the
 * store's promise), else the one a crash or a racing worker stored before — read back and
 * verified in full, and ours (signed, never stored) discarded.
 */
async function signAndStore(deps: Deps, execution: executionsRepo.ExecutionRow, facts: ReceiptFacts): Promise<RecordedReceipt & { uri: string; bucket: string; key: string }> {
  const bucket = receiptBucket(execution.region);
  const key = receiptObjectKey(execution.id);
  const ensured = ensuredBuckets.get(deps.objectStore) ?? new Set<string>();
  if (!ensured.has(bucket)) {
    await deps.objectStore.ensureBucket(bucket, { region: execution.region });
    ensured.add(bucket);
    ensuredBuckets.set(deps.objectStore, ensured);
  }
  const statement = buildStatement(facts);
  const signed = await signStatement(statement, deps.signingKey);
  const body = JSON.stringify(signed.bundle);
  const retainUntil = new Date(Date.now() + deps.config.MC_RECEIPT_RETENTION_DAYS * 86_400_000);
  const put = await deps.objectStore.putObjectOnce(bucket, key, body, { contentType: 'application/vnd.dev.sigstore.bundle.v0.3+json', retainUntil });
  const recorded = put.created ? ownReceipt(execution.id, statement, signed, deps.signingKey) : await storedReceipt(deps, execution.id, bucket, key);
  return { ...recorded, uri: deps.objectStore.uriOf(bucket, key), bucket, key };
}

type StoredReceipt = ReadyToIssue & Awaited<ReturnType<typeof signAndStore>> & { workflow: { id: string } };

/**
 * One transaction for the stored receipts: their rows and the moves to the outcome go out
 * together (pipelined), then an audit event for each row inserted here and a history row for each
 * execution that moved (both sent with the COMMIT).
 */
async function recordReceipts(deps: Deps, stored: readonly StoredReceipt[]): Promise<void> {
  const fresh = await deps.db.transaction(async (tx) => {
    const [inserted, settled] = await Promise.all([
      repo.insertReceipts(
        tx,
        stored.map((s) => ({
          executionId: s.execution.id,
          tenantId: s.execution.tenantId,
          receiptJson: s.statement,
          digest: s.digest,
          signature: s.signature,
          keyId: deps.signingKey.keyId,
          storedUri: s.uri,
          bucket: s.bucket,
          objectKey: s.key,
          verified: true,
        })),
      ),
      executionsRepo.settleReceiptsPending(
        tx,
        stored.map((s) => s.execution.id),
      ),
    ]);
    const fresh = stored.filter((s) => inserted.has(s.execution.id));
    await appendAuditEvents(
      tx,
      fresh.map((s) => ({
        tenantId: s.execution.tenantId,
        type: 'mc.execution.receipt.signed' as const,
        actor: { sub: `runner:${runner.id}` },
        subject: { workflowId: s.workflow.id, executionId: s.execution.id },
        data: { digest: s.digest, storedUri: s.uri, keyId: deps.signingKey.keyId, status: s.status },
      })),
    );
    await recordSettled(tx, settled, new Map(stored.map((s) => [s.execution.id, s.digest])));
    return fresh;
  });
  // Counted once committed: a group whose transaction fails signed nothing on record.
  for (const s of fresh) receiptsSignedTotal.inc({ status: s.status });
}

/**
 * `receipt_pending` → its outcome (`settleReceiptsPending`), on the transaction that recorded the
 * receipts (or, repairing, on its own when the receipt row exists already): the history row saying
 * so, for each execution that moved. The audit event for it is the `mc.execution.receipt.signed`
 * written with the receipt row, so only the transition rows are added here. `digests`: the
 * receipt each execution moved with, absent for a repair.
 */
async function recordSettled(tx: Queryable, settled: readonly executionsRepo.ExecutionRow[], digests: ReadonlyMap<string, string>): Promise<void> {
  await executionsRepo.appendTransitions(
    tx,
    settled.map((row) => {
      const digest = digests.get(row.id);
      return {
        tenantId: row.tenantId,
        type: 'mc.execution.receipt.signed' as const,
        executionId: row.id,
        fromStatus: 'receipt_pending' as const,
        toStatus: row.status,
        actorSub: `runner:${runner.id}`,
        data: digest ? { digest } : { repaired: 'the receipt was stored before; only the status had not moved' },
      };
    }),
  );
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
