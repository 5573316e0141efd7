import type { PgTable } from 'drizzle-orm/pg-core';
import type { DataClassification } from '@mc/shared/policy';
import type * as schema from './schema.ts';

/**
 * The data class of every stored column (spec §3; docs/data/MC_DATA_LIFECYCLE.md):
 *
 * - `public`    — may be published (schemas, docs): no column today.
 * - `internal`  — operational metadata: ids, statuses, timings, counters, redacted logs, plans.
 * - `sensitive` — who did what (actor subjects, IPs), credentials' hashes, key material, digests
 *                 and receipts, manifests (task `with` values), free-text errors and reasons.
 * - `regulated` — may hold PII/PHI: the payload columns of a `regulated` workflow. They are
 *                 stored AES-256-GCM encrypted per execution and cryptographically erasable
 *                 (server/payloads/), and listed in `encryptedColumns` below.
 *
 * Typed against the drizzle schema: a table or column added, renamed or removed without its class
 * here fails `tsc`, and tests/unit/data-classification.test.ts fails the test run the same way.
 */
type Tables = { [K in keyof typeof schema as (typeof schema)[K] extends PgTable ? K : never]: (typeof schema)[K] };
export type ClassificationMap = {
  [T in keyof Tables]: Tables[T] extends PgTable ? { [C in keyof Tables[T]['_']['columns']]: DataClassification } : never;
};

const I = 'internal' as const;
const S = 'sensitive' as const;
const R = 'regulated' as const;

export const columnClassification = {
  tenants: { id: I, name: I, createdAt: I, deletedAt: I },
  apiTokens: { id: I, tenantId: I, name: I, role: I, tokenHash: S, tokenPrefix: S, createdBy: S, createdAt: I, expiresAt: I, lastUsedAt: I, revokedAt: I },
  workflows: { id: I, tenantId: I, name: I, version: I, manifest: S, manifestDigest: S, region: I, status: I, createdBy: S, createdAt: I, publishedAt: I, publishedBy: S },
  executions: {
    id: I, tenantId: I, workflowId: I, status: I, region: I, actorSub: S, idempotencyKey: S, inputs: R, inputsDigest: S, outputsDigest: S,
    rollout: I, traceId: I, error: S, createdAt: I, startedAt: I, finishedAt: I, costUsd: I, costEstimateUsd: I, openSteps: I, inputsClass: I,
    actorRole: I, priority: I, concurrencyKey: I, concurrencyLimit: I, rerunOf: I, idempotencyScope: S, scheduleId: I, pausedAt: I, outcome: I,
  },
  executionSteps: {
    executionId: I, tenantId: I, taskId: I, uses: I, runnerClass: I, status: I, remainingNeeds: I, attempts: I, idempotencyKey: S, outputDigest: S,
    error: S, costUsd: I, startedAt: I, finishedAt: I, durationMs: I, updatedAt: I, wakeAt: I, requeues: I,
  },
  taskResults: { idempotencyKey: S, tenantId: I, executionId: I, taskId: I, output: R, outputDigest: S, createdAt: I },
  // Redacted before they are written (shared/redaction.ts): internal, kept MC_LOG_RETENTION_DAYS.
  executionLogs: { id: I, tenantId: I, executionId: I, taskId: I, attempt: I, ts: I, level: I, message: I, data: I },
  receipts: { executionId: I, tenantId: I, receiptJson: S, digest: S, signature: S, keyId: I, storedUri: I, bucket: I, objectKey: I, verified: I, createdAt: I },
  auditEvents: { seq: I, id: I, tenantId: I, ts: I, type: I, actor: S, subject: I, data: S, workflowId: I, executionId: I, prevHash: I, hash: I, partition: I },
  auditOutboxCursors: { partition: I, lastSeq: I, publishedAt: I },
  policyDecisions: {
    decisionId: I, tenantId: I, pack: I, allow: I, reasons: S, bundleDigest: I, backend: I, latencyMs: I, phase: I, action: I, actorSub: S,
    workflowId: I, executionId: I, inputDigest: S, createdAt: I,
  },
  executionSignals: { id: I, tenantId: I, executionId: I, event: I, key: S, payload: R, actorSub: S, createdAt: I },
  executionApprovals: { executionId: I, tenantId: I, taskId: I, actorSub: S, actorRole: I, decision: I, comment: S, createdAt: I },
  executionTransitions: { id: I, tenantId: I, type: I, executionId: I, scheduleId: I, fromStatus: I, toStatus: I, actorSub: S, data: S, createdAt: I },
  schedules: {
    id: I, tenantId: I, workflowId: I, name: I, cron: I, timezone: I, everyMs: I, inputs: R, missedRunPolicy: I, status: I, actorSub: S, actorRole: I,
    createdAt: I, updatedAt: I, lastFiredAt: I, lastExecutionId: I,
  },
  releaseTracks: { tenantId: I, workflowName: I, stableWorkflowId: I, updatedAt: I },
  releases: {
    id: I, tenantId: I, workflowName: I, stableWorkflowId: I, canaryWorkflowId: I, status: I, weight: I, stage: I, stageStartedAt: I, plan: I, version: I,
    startedBy: S, lastAnalysis: I, lastAnalyzedAt: I, createdAt: I, finishedAt: I, outcomeReason: I,
  },
  releaseEvents: { id: I, releaseId: I, tenantId: I, at: I, kind: I, actor: S, stage: I, fromWeight: I, toWeight: I, dedupeKey: I, data: I },
  releaseRequests: { id: I, releaseId: I, tenantId: I, stage: I, arm: I, workflowId: I, executionId: I, denied: I, createdAt: I },
  errorBudgetStates: { tenantId: I, freezeActive: I, freezeSince: I, remainingRatio: I, burnRatePerHour: I, burnLast24h: I, evaluation: I, evaluatedAt: I, version: I },
  opsAlerts: { id: I, tenantId: I, kind: I, dedupeKey: I, at: I, data: I },
  incidents: { id: I, severity: I, criterion: I, openedAt: I, clearedAt: I, evidence: I, actions: I },
  apiRequestMinutes: { minute: I, total: I, errors5xx: I },
  tenantSpendMinutes: { tenantId: I, minute: I, shard: I, amountUsd: I },
  executionDataKeys: { executionId: I, tenantId: I, region: I, wrappedKey: S, masterKeyId: I, createdAt: I, erasedAt: I },
  dataErasures: { id: I, tenantId: I, executionId: I, actorSub: S, reason: S, masterKeyId: I, createdAt: I },
  retentionRuns: { id: I, runId: I, kind: I, cutoff: I, retentionDays: I, batch: I, deleted: I, runner: I, startedAt: I, finishedAt: I },
} satisfies ClassificationMap;

/**
 * `regulated` columns stored encrypted by the payload vault (server/payloads/payload-boundary.ts).
 * The classification test requires every `regulated` column to be here or in `unencryptedRegulatedColumns`.
 */
export const encryptedColumns: ReadonlyArray<readonly [keyof ClassificationMap, string]> = [
  ['executions', 'inputs'],
  ['taskResults', 'output'],
  ['executionSignals', 'payload'],
];

/**
 * `regulated` columns NOT yet stored through the payload vault: known gaps, listed so they stay
 * visible (docs/data/MC_DATA_LIFECYCLE.md, "Known gaps"). Remove an entry when its module seals it.
 */
export const unencryptedRegulatedColumns: ReadonlyArray<readonly [keyof ClassificationMap, string]> = [
  // A schedule has no execution yet, hence no per-execution data key to seal its inputs under.
  ['schedules', 'inputs'],
];
