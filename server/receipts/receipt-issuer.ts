import { hostname } from 'node:os';
import { buildStatement, type ReceiptFacts } from '@mc/shared/receipt-statement';
import { signStatement } from '@mc/shared/receipt-signing';
import { verifyReceiptBundle } from '@mc/shared/receipt-verification';
import { appendAuditEvents } from '../audit/audit-writer.ts';
import type { Deps } from '../deps.ts';
import * as executionsRepo from '../executions/repository.ts';
import { findDecisionsForExecution } from '../policy/decision-repository.ts';
import { findWorkflow } from '../workflows/repository.ts';
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
 * Builds, signs and stores the receipt of a terminal execution, then records it. Safe to run
 * again at any point after a crash: the object store is write-once, so a receipt already stored
 * for this execution is verified and reused rather than signed a second time.
 */
export async function issueReceipt(deps: Deps, executionId: string): Promise<IssueOutcome> {
  if (await repo.findReceipt(deps.db, executionId)) return 'exists';
  const execution = await executionsRepo.findExecution(deps.db, executionId);
  if (!execution) return 'not-found';
  if (!['succeeded', 'failed', 'cancelled', 'rejected', 'rolled_back'].includes(execution.status)) return 'not-terminal';
  if (execution.status === 'cancelled' || execution.status === 'rejected') {
    // Tasks told to stop get the grace period; the receipt records how each step ended, so it waits for them.
    const running = await executionsRepo.findRunningSteps(deps.db, executionId);
    if (running.length > 0) {
      const graceOver = (execution.finishedAt?.getTime() ?? 0) + deps.config.MC_CANCEL_GRACE_MS <= Date.now();
      if (!graceOver) return 'not-terminal';
      await executionsRepo.abandonRunningSteps(deps.db, executionId, `no answer within the ${deps.config.MC_CANCEL_GRACE_MS} ms cancel grace period; abandoned`);
    }
  }
  const [workflow, steps, decisions, approvals] = await Promise.all([
    findWorkflow(deps.db, execution.workflowId),
    executionsRepo.findSteps(deps.db, executionId),
    findDecisionsForExecution(deps.db, executionId),
    executionsRepo.findApprovals(deps.db, executionId),
  ]);
  if (!workflow) return 'not-found';

  const facts: ReceiptFacts = {
    execution: {
      id: execution.id,
      status: execution.status as ReceiptFacts['execution']['status'],
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
  const keys = [{ keyId: deps.signingKey.keyId, publicKeyPem: deps.signingKey.publicKeyPem }];

  let stored = await deps.objectStore.getObject(bucket, key);
  if (!stored) {
    const signed = await signStatement(buildStatement(facts), deps.signingKey);
    const retainUntil = new Date(Date.now() + deps.config.MC_RECEIPT_RETENTION_DAYS * 86_400_000);
    await deps.objectStore.putObjectOnce(bucket, key, JSON.stringify(signed.bundle), {
      contentType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      retainUntil,
    });
    // Read back what the store holds (ours, or a racing writer's) and verify that.
    stored = await deps.objectStore.getObject(bucket, key);
    if (!stored) throw new Error(`receipt for ${executionId} was written but cannot be read back from ${bucket}/${key}`);
  }
  const uri = deps.objectStore.uriOf(bucket, key);
  const verification = await verifyReceiptBundle(JSON.parse(new TextDecoder().decode(stored)), keys, { executionId });
  if (!verification.ok) receiptVerificationFailuresTotal.inc({ where: 'issue' });
  if (!verification.ok) throw new Error(`stored receipt for ${executionId} does not verify: ${verification.reason}`);

  const bundle: unknown = JSON.parse(new TextDecoder().decode(stored));
  const signature = signatureOf(bundle);
  await deps.db.transaction(async (tx) => {
    const inserted = await repo.insertReceipt(tx, {
      executionId,
      tenantId: execution.tenantId,
      receiptJson: verification.statement,
      digest: verification.digest,
      signature,
      keyId: deps.signingKey.keyId,
      storedUri: uri,
      bucket,
      objectKey: key,
      verified: true,
    });
    if (inserted) {
      receiptsSignedTotal.inc({ status: execution.status });
      await appendAuditEvents(tx, [
        {
          tenantId: execution.tenantId,
          type: 'mc.execution.receipt.signed',
          actor: { sub: `runner:${runner.id}` },
          subject: { workflowId: workflow.id, executionId },
          data: { digest: verification.digest, storedUri: uri, keyId: deps.signingKey.keyId, status: execution.status },
        },
      ]);
    }
  });
  return 'issued';
}

function signatureOf(bundle: unknown): string {
  const sig = (bundle as { dsseEnvelope?: { signatures?: { sig?: unknown }[] } }).dsseEnvelope?.signatures?.[0]?.sig;
  return typeof sig === 'string' ? sig : '';
}
