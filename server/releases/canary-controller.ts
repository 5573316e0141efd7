import type { AnalysisVerdict } from '@mc/shared/releases';
import { isChangeFrozen } from './freeze-state.ts';
import * as repo from './repository.ts';
import { analyseRelease, applyPromotion, applyRollback, type Faults, type ReleaseDeps } from './transitions.ts';

/** Who the controller's steps are recorded as. */
export const controllerActor = 'system:canary-controller';

export interface ControllerDecision {
  releaseId: string;
  verdict: AnalysisVerdict;
  action: 'promoted' | 'completed' | 'rolled_back' | 'held' | 'lost_race';
}

/**
 * One pass of the canary controller over every active release (rollout playbook steps 3–4):
 * a breach rolls back; a complete passing analysis (enough samples, whole window) promotes one
 * stage; anything else holds. Stateless: everything it knows is read from Postgres at `now`,
 * so a controller killed at any point simply runs again from the stored state.
 */
export async function runCanaryController(deps: ReleaseDeps, now: Date, faults?: Faults): Promise<ControllerDecision[]> {
  const decisions: ControllerDecision[] = [];
  for (const release of await repo.listActiveReleases(deps.db)) {
    try {
      decisions.push(await advanceRelease(deps, release, now, faults));
    } catch (err) {
      // One release's failure must not stall the others; the next tick retries it.
      deps.logger.warn({ err, releaseId: release.id }, 'canary controller step failed');
    }
  }
  return decisions;
}

export async function advanceRelease(deps: ReleaseDeps, release: repo.ReleaseRow, now: Date, faults?: Faults): Promise<ControllerDecision> {
  const analysis = await analyseRelease(deps, release, now);
  await faults?.('analysed');
  const decided = (action: ControllerDecision['action']): ControllerDecision => ({ releaseId: release.id, verdict: analysis.verdict, action });
  if (analysis.verdict === 'breach') {
    const rolled = await applyRollback(deps, release.id, { reason: 'slo_breach', actor: controllerActor, evidence: { analysis } }, now, faults);
    await faults?.('committed');
    return decided(rolled ? 'rolled_back' : 'lost_race');
  }
  if (analysis.verdict === 'pass') {
    if (await isChangeFrozen(deps, release.tenantId)) {
      // A change freeze holds promotions (spec §9); rollbacks still go through above.
      await repo.storeAnalysis(deps.db, release.id, release.version, analysis, now);
      await hold(deps, release, now, 'change_freeze', analysis);
      return decided('held');
    }
    const moved = await applyPromotion(deps, release, { analysis, actor: controllerActor, manual: false }, now, faults);
    await faults?.('committed');
    if (!moved) return decided('lost_race');
    return decided(moved.status === 'completed' ? 'completed' : 'promoted');
  }
  await repo.storeAnalysis(deps.db, release.id, release.version, analysis, now);
  // A whole window without enough traffic is worth a line on the timeline (once per stage): it is why nothing moved.
  if (analysis.verdict === 'insufficient_data' && analysis.elapsedMs >= analysis.windowMs) await hold(deps, release, now, 'insufficient_data', analysis);
  return decided('held');
}

async function hold(deps: ReleaseDeps, release: repo.ReleaseRow, now: Date, why: string, analysis: unknown): Promise<void> {
  await repo.insertReleaseEvent(deps.db, {
    releaseId: release.id,
    tenantId: release.tenantId,
    at: now,
    kind: 'held',
    actor: controllerActor,
    stage: release.stage,
    fromWeight: release.weight,
    toWeight: release.weight,
    dedupeKey: `hold:${why}:${release.stage}`,
    data: { why, analysis },
  });
}
