import type { Analysis } from '@mc/shared/releases';
import { eq } from 'drizzle-orm';
import { appendAuditEvents } from '../audit/audit-writer.ts';
import { releases } from '../db/schema.ts';
import type { Deps } from '../deps.ts';
import { analyse, armMetrics, type Thresholds } from './canary-analysis.ts';
import * as repo from './repository.ts';

/**
 * The guarded state changes of a release: promotion (one stage up, or completion) and rollback.
 * Each is one transaction that moves the release only from the version it read, records the
 * step once (a dedupe key per step) and, for a rollback, emits `mc.release.rollback` — so a
 * writer that dies anywhere leaves the release either before or after the step, never half way,
 * and two writers racing make one step.
 */
export type ReleaseDeps = Pick<Deps, 'db' | 'config' | 'logger'>;

/** Chaos hook for tests: called at named points of a transition (a child process SIGKILLs itself there). */
export type FaultPoint = 'analysed' | 'in_transaction' | 'committed';
export type Faults = (point: FaultPoint) => void | Promise<void>;

export type RollbackReason = 'slo_breach' | 'breach_simulator' | 'error_budget_burn' | 'sev1' | 'manual';

export function thresholdsOf(config: ReleaseDeps['config']): Thresholds {
  return {
    p95Ms: config.MC_CANARY_MAX_P95_MS,
    errorRate: config.MC_CANARY_MAX_ERROR_RATE,
    denyRate: config.MC_CANARY_MAX_DENY_RATE,
    minSamples: config.MC_CANARY_MIN_SAMPLES,
  };
}

export async function analyseRelease(deps: ReleaseDeps, release: repo.ReleaseRow, now: Date): Promise<Analysis> {
  const thresholds = thresholdsOf(deps.config);
  const raw = await repo.stageMetrics(deps.db, release.id, release.stage, thresholds.p95Ms);
  return analyse({
    at: now,
    stage: release.stage,
    weight: release.weight,
    windowStartedAt: release.stageStartedAt,
    windowMs: release.plan.windowsMs[release.stage] ?? release.plan.windowsMs.at(-1) ?? 0,
    canary: armMetrics(raw.canary),
    stable: armMetrics(raw.stable),
    thresholds,
  });
}

/**
 * One stage up (10 % → 50 %), or, from the last stage, completion: the canary becomes the stable
 * version at 100 %. Null when the release moved since `release` was read.
 */
export async function applyPromotion(
  deps: ReleaseDeps,
  release: repo.ReleaseRow,
  evidence: { analysis: Analysis; actor: string; manual: boolean; reason?: string | undefined },
  now: Date,
  faults?: Faults,
): Promise<repo.ReleaseRow | null> {
  const last = release.stage >= release.plan.weights.length - 1;
  const toWeight = last ? 100 : release.plan.weights[release.stage + 1]!;
  return deps.db.transaction(async (tx) => {
    const moved = await repo.transitionRelease(
      tx,
      release.id,
      release.version,
      last
        ? { status: 'completed', weight: 100, finishedAt: now, outcomeReason: 'promoted', lastAnalysis: evidence.analysis, lastAnalyzedAt: now }
        : { stage: release.stage + 1, weight: toWeight, stageStartedAt: now, lastAnalysis: evidence.analysis, lastAnalyzedAt: now },
    );
    if (!moved) return null;
    if (last) await repo.setStableWorkflow(tx, release.tenantId, release.workflowName, release.canaryWorkflowId);
    await repo.insertReleaseEvent(tx, {
      releaseId: release.id,
      tenantId: release.tenantId,
      at: now,
      kind: last ? 'completed' : 'promoted',
      actor: evidence.actor,
      stage: release.stage,
      fromWeight: release.weight,
      toWeight,
      // One promotion per stage window, whoever makes it.
      dedupeKey: `promote:${release.stage}`,
      data: { manual: evidence.manual, ...(evidence.reason ? { reason: evidence.reason } : {}), analysis: evidence.analysis },
    });
    await faults?.('in_transaction');
    return moved;
  });
}

/**
 * Weight 0, status `rolled_back`, the step on the timeline and `mc.release.rollback` with the
 * evidence, in one transaction. Applies to an active release whatever its version (a rollback
 * must win over a promotion in flight); null when it is no longer active.
 */
export async function applyRollback(
  deps: Pick<ReleaseDeps, 'db'>,
  releaseId: string,
  evidence: { reason: RollbackReason; actor: string; ip?: string | undefined; evidence: Record<string, unknown> },
  now: Date,
  faults?: Faults,
): Promise<repo.ReleaseRow | null> {
  return deps.db.transaction(async (tx) => {
    const [current] = await tx.select().from(releases).where(eq(releases.id, releaseId)).for('update');
    if (!current || current.status !== 'active') return null;
    const moved = await repo.transitionRelease(tx, current.id, current.version, { status: 'rolled_back', weight: 0, finishedAt: now, outcomeReason: evidence.reason });
    if (!moved) return null;
    await repo.insertReleaseEvent(tx, {
      releaseId: current.id,
      tenantId: current.tenantId,
      at: now,
      kind: 'rolled_back',
      actor: evidence.actor,
      stage: current.stage,
      fromWeight: current.weight,
      toWeight: 0,
      dedupeKey: 'rollback',
      data: { reason: evidence.reason, evidence: evidence.evidence },
    });
    await faults?.('in_transaction');
    await appendAuditEvents(tx, [
      {
        tenantId: current.tenantId,
        type: 'mc.release.rollback',
        actor: { sub: evidence.actor, ...(evidence.ip ? { ip: evidence.ip } : {}) },
        subject: { workflowId: current.canaryWorkflowId },
        data: {
          releaseId: current.id,
          workflowName: current.workflowName,
          canaryWorkflowId: current.canaryWorkflowId,
          stableWorkflowId: current.stableWorkflowId,
          stage: current.stage,
          fromWeight: current.weight,
          toWeight: 0,
          reason: evidence.reason,
          evidence: evidence.evidence,
        },
      },
    ]);
    return moved;
  });
}
