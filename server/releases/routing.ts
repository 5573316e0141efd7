import { createHash, randomBytes } from 'node:crypto';
import type { Actor } from '@mc/shared/actor';
import { AppError } from '@mc/shared/errors';
import type { Queryable } from '../db/client.ts';
import type { Deps } from '../deps.ts';
import { findPublishedWorkflowCached, findWorkflow } from '../workflows/repository.ts';
import * as repo from './repository.ts';
import { enterCanary } from './service.ts';

/**
 * Where `executions.start` meets releases: which version a request runs, and the tag that puts
 * it in its release's stage traffic (the canary analysis reads only tagged requests).
 */
export interface ReleaseRouting {
  releaseId: string;
  tenantId: string;
  stage: number;
  arm: 'stable' | 'canary';
  workflowId: string;
}

export interface StartTarget {
  workflowId: string;
  routing: ReleaseRouting | null;
}

/**
 * A point in [0, 100) fixed by the release and the routing key: the request runs the canary when
 * it is below the weight. The same key lands on the same version, and as the weight grows a key
 * that was on the canary stays there.
 */
export function routeBucket(releaseId: string, routingKey: string): number {
  const h = createHash('sha256').update(`${releaseId}\n${routingKey}`).digest();
  return (h.readUInt32BE(0) / 2 ** 32) * 100;
}

export async function resolveStartTarget(
  deps: Deps,
  input: { workflowId?: string | undefined; workflowName?: string | undefined; rollout?: 'canary' | 'stable' | undefined; routingKey?: string | undefined; idempotencyKey?: string | undefined },
  actor: Actor,
): Promise<StartTarget> {
  if (input.workflowName !== undefined) return routeByName(deps, input.workflowName, input.routingKey ?? input.idempotencyKey, actor);
  const workflowId = input.workflowId!;
  if (input.rollout === 'canary') {
    const entered = await enterCanary(deps, workflowId, actor);
    if (entered.release) return { workflowId, routing: tag(entered.release, 'canary') };
    return { workflowId, routing: null };
  }
  // A version run as is still counts in its release's traffic when it is one of its two versions.
  const wf = await findPublishedWorkflowCached(deps.db, workflowId, { tenantId: actor.tenantId });
  if (!wf) return { workflowId, routing: null };
  const release = await repo.findActiveRelease(deps.db, actor.tenantId, wf.name);
  if (release?.canaryWorkflowId === workflowId) return { workflowId, routing: tag(release, 'canary') };
  if (release?.stableWorkflowId === workflowId) return { workflowId, routing: tag(release, 'stable') };
  return { workflowId, routing: null };
}

async function routeByName(deps: Deps, name: string, routingKey: string | undefined, actor: Actor): Promise<StartTarget> {
  const release = await repo.findActiveRelease(deps.db, actor.tenantId, name);
  if (release) {
    const key = routingKey ?? randomBytes(16).toString('hex');
    const arm = routeBucket(release.id, key) < release.weight ? 'canary' : 'stable';
    const routed = tag(release, arm);
    return { workflowId: routed.workflowId, routing: routed };
  }
  const stable = (await repo.findStableWorkflowId(deps.db, actor.tenantId, name)) ?? (await repo.newestPublishedWorkflow(deps.db, actor.tenantId, name))?.id;
  if (!stable) throw new AppError('NOT_FOUND', `workflow ${name} has no published version`);
  return { workflowId: stable, routing: null };
}

function tag(release: repo.ReleaseRow, arm: 'stable' | 'canary'): ReleaseRouting {
  return {
    releaseId: release.id,
    tenantId: release.tenantId,
    stage: release.stage,
    arm,
    workflowId: arm === 'canary' ? release.canaryWorkflowId : release.stableWorkflowId,
  };
}

/** On the start's transaction: the execution joins its stage's traffic. */
export async function recordRouting(tx: Queryable, routing: ReleaseRouting | null, executionId: string): Promise<void> {
  if (!routing) return;
  await repo.insertReleaseRequest(tx, { releaseId: routing.releaseId, tenantId: routing.tenantId, stage: routing.stage, arm: routing.arm, workflowId: routing.workflowId, executionId });
}

/** A request policy refused: it counts in its arm's deny rate. */
export async function recordDeniedRouting(db: Queryable, routing: ReleaseRouting | null): Promise<void> {
  if (!routing) return;
  await repo.insertReleaseRequest(db, { releaseId: routing.releaseId, tenantId: routing.tenantId, stage: routing.stage, arm: routing.arm, workflowId: routing.workflowId, denied: true });
}

/** For an idempotent retry: does the earlier execution answer the same request (same version, or same name)? */
export async function sameStartTarget(db: Queryable, existingWorkflowId: string, input: { workflowId?: string | undefined; workflowName?: string | undefined }): Promise<boolean> {
  if (input.workflowId !== undefined) return input.workflowId === existingWorkflowId;
  const wf = await findWorkflow(db, existingWorkflowId);
  return wf?.name === input.workflowName;
}
