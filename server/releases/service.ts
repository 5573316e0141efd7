import { randomUUID } from 'node:crypto';
import { and, asc, eq, sql } from 'drizzle-orm';
import type { Actor } from '@mc/shared/actor';
import { digestOf } from '@mc/shared/canonical-json';
import { AppError, validationError } from '@mc/shared/errors';
import {
  breachInputSchema,
  releaseActionInputSchema,
  releaseListInputSchema,
  releaseStartInputSchema,
  type ReleaseDetail,
  type ReleaseEventView,
  type ReleaseView,
  type Analysis,
} from '@mc/shared/releases';
import { compareSemver } from '@mc/shared/semver';
import type { z } from 'zod';
import { auditEvents } from '../db/schema.ts';
import type { Deps } from '../deps.ts';
import { policyDeniesTotal } from '../observability/metrics.ts';
import { recordDecisions, refuse, type PolicyOutcome } from '../policy/policy-service.ts';
import { findWorkflow } from '../workflows/repository.ts';
import { isChangeFrozen } from './freeze-state.ts';
import * as repo from './repository.ts';
import { analyseRelease, applyPromotion, applyRollback, thresholdsOf, type ReleaseDeps } from './transitions.ts';

/**
 * Releases as requests see them (rollout playbook, docs/ops/ROLLOUT_PLAYBOOK.md): entering a
 * canary, manual promotion and rollback, the breach simulator, views and the evidence report.
 * The controller's automatic steps are in canary-controller.ts; both move a release only
 * through transitions.ts.
 */

export type EnterOutcome = 'started' | 'already_canary' | 'is_stable' | 'bootstrapped';

/**
 * Enters a published version as the canary of its workflow's release, starting one at the first
 * stage's weight when none is active. Idempotent for the version already canary. A name with no
 * stable version yet has nothing to compare against: the version becomes stable at once.
 * The freeze pack decides first (a version older than the stable one is a rollback, allowed).
 */
export async function enterCanary(deps: Deps, workflowId: string, actor: Actor, now = new Date()): Promise<{ release: repo.ReleaseRow | null; outcome: EnterOutcome }> {
  const wf = await findWorkflow(deps.db, workflowId, { tenantId: actor.tenantId });
  if (!wf) throw new AppError('NOT_FOUND', `workflow ${workflowId} not found`);
  if (wf.status !== 'published') {
    throw new AppError('CONFLICT', `workflow ${wf.name}@${wf.version} is a draft; publish it before releasing it`, { details: { workflowId: wf.id, status: wf.status } });
  }
  const active = await repo.findActiveRelease(deps.db, actor.tenantId, wf.name);
  if (active) return existingRelease(active, wf);
  const stableId = (await repo.findStableWorkflowId(deps.db, actor.tenantId, wf.name)) ?? (await repo.newestPublishedWorkflow(deps.db, actor.tenantId, wf.name, wf.id))?.id;
  if (stableId === wf.id) return { release: null, outcome: 'is_stable' };
  if (!stableId) {
    await repo.setStableWorkflow(deps.db, actor.tenantId, wf.name, wf.id);
    deps.logger.info({ 'workflow.id': wf.id, name: wf.name, version: wf.version }, 'first version of a workflow: stable without a canary');
    return { release: null, outcome: 'bootstrapped' };
  }
  const stable = await findWorkflow(deps.db, stableId);
  const outcome = await evaluateFreeze(deps, actor, wf.id, stable ? compareSemver(wf.version, stable.version) < 0 : false);
  if (!outcome.allowed) await refuse(deps, outcome);
  const plan = { weights: deps.config.MC_CANARY_WEIGHTS, windowsMs: deps.config.MC_CANARY_WINDOWS_MS };
  const created = await deps.db.transaction(async (tx) => {
    if (!(await repo.findStableWorkflowId(tx, actor.tenantId, wf.name))) await repo.setStableWorkflow(tx, actor.tenantId, wf.name, stableId);
    const row = await repo.insertRelease(tx, {
      tenantId: actor.tenantId,
      workflowName: wf.name,
      stableWorkflowId: stableId,
      canaryWorkflowId: wf.id,
      weight: plan.weights[0]!,
      stage: 0,
      stageStartedAt: now,
      plan,
      startedBy: actor.sub,
      createdAt: now,
    });
    if (!row) return null;
    await repo.insertReleaseEvent(tx, {
      releaseId: row.id,
      tenantId: actor.tenantId,
      at: now,
      kind: 'started',
      actor: actor.sub,
      stage: 0,
      fromWeight: 0,
      toWeight: row.weight,
      dedupeKey: 'start',
      data: { stable: { id: stableId, version: stable?.version }, canary: { id: wf.id, version: wf.version }, plan, thresholds: thresholdsOf(deps.config) },
    });
    await recordDecisions(tx, outcome, null);
    return row;
  });
  if (created) return { release: created, outcome: 'started' };
  // Another start for the same name won the race.
  const winner = await repo.findActiveRelease(deps.db, actor.tenantId, wf.name);
  if (!winner) throw new AppError('CONFLICT', `release of ${wf.name} changed meanwhile; retry`);
  return existingRelease(winner, wf);
}

function existingRelease(active: repo.ReleaseRow, wf: { id: string; name: string; version: string }): { release: repo.ReleaseRow; outcome: EnterOutcome } {
  if (active.canaryWorkflowId === wf.id) return { release: active, outcome: 'already_canary' };
  throw new AppError('CONFLICT', `${wf.name} already has an active release (${active.id}); roll it back or let it finish before releasing ${wf.version}`, {
    details: { releaseId: active.id, canaryWorkflowId: active.canaryWorkflowId, stableWorkflowId: active.stableWorkflowId },
  });
}

/** The freeze pack alone (access was checked by the route): `publish` of a version into service. */
async function evaluateFreeze(deps: Deps, actor: Actor, workflowId: string, isRollback: boolean): Promise<PolicyOutcome> {
  const input = { action: 'publish' as const, actor: { sub: actor.sub, role: actor.role, tenant: actor.tenantName }, freeze: { active: await isChangeFrozen(deps, actor.tenantId), isRollback } };
  const decision = { ...(await deps.pdp.decide('freeze', input)), inputDigest: digestOf(input) };
  if (!decision.allow) for (const reason of decision.reasons) policyDeniesTotal.inc({ pack: 'freeze', reason: reason.slice(0, 64) });
  return { allowed: decision.allow, decisions: [decision], phase: 'publish', action: 'publish', actor, workflowId };
}

export async function startRelease(deps: Deps, raw: unknown, actor: Actor, now = new Date()): Promise<{ outcome: EnterOutcome; release: ReleaseView | null }> {
  const input = parse(releaseStartInputSchema, raw, 'release');
  const { release, outcome } = await enterCanary(deps, input.workflowId, actor, now);
  return { outcome, release: release ? await releaseView(deps, release) : null };
}

async function activeRelease(deps: ReleaseDeps, input: z.output<typeof releaseActionInputSchema>, actor: Actor): Promise<repo.ReleaseRow> {
  const release = await repo.findRelease(deps.db, input.id, actor.tenantId);
  if (!release) throw new AppError('NOT_FOUND', `release ${input.id} not found`);
  if (release.status !== 'active') throw new AppError('CONFLICT', `release ${release.id} is ${release.status}`, { details: { status: release.status } });
  if (input.expectedVersion !== undefined && input.expectedVersion !== release.version) {
    throw new AppError('CONFLICT', `release ${release.id} changed since you saw it (version ${input.expectedVersion}, now ${release.version}); reload`, { details: { version: release.version } });
  }
  return release;
}

/** An operator's promotion: one stage now, without waiting for the window, but never over a breach or through a freeze. */
export async function promoteRelease(deps: Deps, raw: unknown, actor: Actor, now = new Date()): Promise<ReleaseView> {
  const input = parse(releaseActionInputSchema, raw, 'promotion');
  const release = await activeRelease(deps, input, actor);
  const outcome = await evaluateFreeze(deps, actor, release.canaryWorkflowId, false);
  if (!outcome.allowed) await refuse(deps, outcome);
  const analysis = await analyseRelease(deps, release, now);
  if (analysis.verdict === 'breach') {
    throw new AppError('CONFLICT', 'the canary is over a threshold; roll it back instead', { details: { checks: analysis.checks } });
  }
  const moved = await applyPromotion(deps, release, { analysis, actor: actor.sub, manual: true, reason: input.reason }, now);
  if (!moved) throw new AppError('CONFLICT', `release ${release.id} changed meanwhile; reload`);
  return releaseView(deps, moved);
}

export async function rollbackRelease(deps: Deps, raw: unknown, actor: Actor, now = new Date()): Promise<ReleaseView> {
  const input = parse(releaseActionInputSchema, raw, 'rollback');
  const release = await activeRelease(deps, input, actor);
  const analysis = await analyseRelease(deps, release, now);
  const moved = await applyRollback(deps, release.id, { reason: 'manual', actor: actor.sub, ip: actor.ip, evidence: { note: input.reason ?? null, analysis } }, now);
  if (!moved) throw new AppError('CONFLICT', `release ${release.id} is no longer active`);
  return releaseView(deps, moved);
}

/**
 * Spec §13's breach simulator: a metric reported over its threshold rolls back, through the same
 * transition as the controller, every active canary of `service` (`mc`: all of the tenant's;
 * else the workflow of that name). A value at or under its threshold is recorded and changes nothing.
 */
export async function simulateBreach(deps: Deps, raw: unknown, actor: Actor, now = new Date()) {
  const input = parse(breachInputSchema, raw, 'breach');
  const breached = input.value > input.threshold;
  const targets =
    input.service === 'mc' ? await repo.listActiveReleases(deps.db, actor.tenantId) : [await repo.findActiveRelease(deps.db, actor.tenantId, input.service)].filter((r) => r !== null);
  const rolledBack: string[] = [];
  for (const release of targets) {
    await repo.insertReleaseEvent(deps.db, {
      releaseId: release.id,
      tenantId: release.tenantId,
      at: now,
      kind: 'breach_reported',
      actor: actor.sub,
      stage: release.stage,
      fromWeight: release.weight,
      toWeight: release.weight,
      dedupeKey: `breach:${randomUUID()}`,
      data: { ...input, breached },
    });
    if (!breached) continue;
    const rolled = await applyRollback(deps, release.id, { reason: 'breach_simulator', actor: actor.sub, ip: actor.ip, evidence: { ...input, source: 'breach-simulator' } }, now);
    if (rolled) rolledBack.push(release.id);
  }
  return { breach: breached, ...input, releases: targets.map((r) => r.id), rolledBack };
}

export async function listReleases(deps: ReleaseDeps, raw: unknown, actor: Pick<Actor, 'tenantId'>): Promise<ReleaseView[]> {
  const input = parse(releaseListInputSchema, raw ?? {}, 'query');
  const rows = await repo.listReleases(deps.db, { tenantId: actor.tenantId, ...input });
  return Promise.all(rows.map((r) => releaseView(deps, r)));
}

export async function getRelease(deps: ReleaseDeps, id: string, actor: Pick<Actor, 'tenantId'>): Promise<ReleaseDetail> {
  const release = await repo.findRelease(deps.db, id, actor.tenantId);
  if (!release) throw new AppError('NOT_FOUND', `release ${id} not found`);
  const [view, events] = await Promise.all([releaseView(deps, release), repo.listReleaseEvents(deps.db, id)]);
  return { ...view, events: events.map(eventView) };
}

/**
 * The canary report (rollout playbook step 5): everything needed to judge the release after the
 * fact — its plan and thresholds, each stage's window and metrics as they stand, every decision
 * with the analysis behind it and who made it, and the `mc.release.rollback` audit events.
 */
export async function releaseReport(deps: ReleaseDeps, id: string, actor: Pick<Actor, 'tenantId'>) {
  const detail = await getRelease(deps, id, actor);
  const thresholds = thresholdsOf(deps.config);
  const stageEnds = new Map<number, ReleaseEventView>();
  for (const e of detail.events) if (['promoted', 'completed', 'rolled_back'].includes(e.kind) && !stageEnds.has(e.stage)) stageEnds.set(e.stage, e);
  const stages = [];
  const weights = detail.stageWeights;
  let startedAt: Date = detail.events.find((e) => e.kind === 'started')?.at ?? detail.createdAt;
  for (let stage = 0; stage <= detail.stage; stage++) {
    const end = stageEnds.get(stage) ?? null;
    const metrics = await repo.stageMetrics(deps.db, id, stage, thresholds.p95Ms);
    stages.push({
      stage,
      weight: weights[stage] ?? null,
      windowMs: detail.stageWindowsMs[stage] ?? null,
      startedAt: startedAt.toISOString(),
      endedAt: end ? end.at.toISOString() : null,
      metrics,
      decision: end ? { kind: end.kind, at: end.at.toISOString(), actor: end.actor, fromWeight: end.fromWeight, toWeight: end.toWeight, evidence: end.data } : null,
    });
    if (end) startedAt = end.at;
  }
  const rollbacks = await deps.db
    .select()
    .from(auditEvents)
    .where(and(eq(auditEvents.tenantId, actor.tenantId), eq(auditEvents.type, 'mc.release.rollback'), sql`${auditEvents.data}->>'releaseId' = ${id}`))
    .orderBy(asc(auditEvents.seq));
  const { events, ...release } = detail;
  return {
    schema: 'mc.release.report.v1',
    generatedAt: new Date().toISOString(),
    release: { ...release, stageStartedAt: release.stageStartedAt.toISOString(), createdAt: release.createdAt.toISOString(), finishedAt: release.finishedAt?.toISOString() ?? null },
    thresholds,
    stages,
    timeline: events.map((e) => ({ ...e, at: e.at.toISOString() })),
    auditEvents: rollbacks.map((e) => ({ id: e.id, seq: e.seq, ts: e.ts.toISOString(), type: e.type, actor: e.actor, subject: e.subject, data: e.data, hash: e.hash })),
  };
}

export async function releaseView(deps: ReleaseDeps, r: repo.ReleaseRow): Promise<ReleaseView> {
  const [stable, canary] = await Promise.all([findWorkflow(deps.db, r.stableWorkflowId), findWorkflow(deps.db, r.canaryWorkflowId)]);
  const t = thresholdsOf(deps.config);
  return {
    id: r.id,
    workflowName: r.workflowName,
    stable: { id: r.stableWorkflowId, version: stable?.version ?? '?' },
    canary: { id: r.canaryWorkflowId, version: canary?.version ?? '?' },
    status: r.status,
    weight: r.weight,
    stage: r.stage,
    stageWeights: r.plan.weights,
    stageWindowsMs: r.plan.windowsMs,
    stageStartedAt: r.stageStartedAt,
    version: r.version,
    startedBy: r.startedBy,
    createdAt: r.createdAt,
    finishedAt: r.finishedAt,
    outcomeReason: r.outcomeReason,
    lastAnalysis: (r.lastAnalysis as Analysis | null) ?? null,
    lastAnalyzedAt: r.lastAnalyzedAt,
    thresholds: { p95Ms: t.p95Ms, errorRate: t.errorRate, denyRate: t.denyRate, minSamples: t.minSamples },
  };
}

function eventView(e: repo.ReleaseEventRow): ReleaseEventView {
  return { id: e.id, at: e.at, kind: e.kind, actor: e.actor, stage: e.stage, fromWeight: e.fromWeight, toWeight: e.toWeight, data: e.data as Record<string, unknown> };
}

function parse<T>(schema: z.ZodType<T>, raw: unknown, what: string): T {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw validationError(parsed.error, what);
  return parsed.data;
}
