import type { Actor } from '@mc/shared/actor';
import { digestOf } from '@mc/shared/canonical-json';
import { AppError } from '@mc/shared/errors';
import type { Manifest } from '@mc/shared/manifest';
import type { PolicyDecision, PolicyPack } from '@mc/shared/policy';
import { taskPackages, isKnownPackage } from '@mc/shared/task-packages';
import { appendAuditEvents } from '../audit/audit-writer.ts';
import type { Queryable } from '../db/client.ts';
import type { Deps } from '../deps.ts';
import { policyDeniesTotal } from '../observability/metrics.ts';
import { isChangeFrozen } from '../releases/freeze-state.ts';
import { insertDecisions } from './decision-repository.ts';
import { windowSpendUsd } from './spend-ledger.ts';

/**
 * Where the policy packs meet the requests: which packs decide at publish, plan and execute, with
 * what input, and what happens to the decisions (each one recorded, evented and, when any denies,
 * the request refused with 403 naming the pack and its reasons). Evaluated server-side on every
 * execute, whatever a plan said earlier (spec §1 "policy bypass via local plan only").
 */
export type PolicyPhase = 'publish' | 'plan' | 'execute';

export interface EvaluatedDecision extends PolicyDecision {
  inputDigest: string;
}

export interface PolicyOutcome {
  allowed: boolean;
  decisions: EvaluatedDecision[];
  phase: PolicyPhase;
  action: string;
  actor: Actor;
  workflowId: string;
}

interface WorkflowFacts {
  id: string;
  name: string;
  version: string;
  region: string;
  manifest: Manifest;
}

function policyWorkflow(wf: WorkflowFacts, withTasks: boolean) {
  return {
    id: wf.id,
    name: wf.name,
    version: wf.version,
    region: wf.region,
    dataClassification: wf.manifest.dataClassification ?? 'internal',
    ...(withTasks ? { tasks: wf.manifest.tasks.map((t) => ({ id: t.id, with: t.with })) } : {}),
  };
}

const policyActor = (actor: Actor) => ({ sub: actor.sub, role: actor.role, tenant: actor.tenantName });

async function decideAll(deps: Deps, inputs: [PolicyPack, unknown][]): Promise<EvaluatedDecision[]> {
  const decisions = await Promise.all(inputs.map(async ([pack, input]) => ({ ...(await deps.pdp.decide(pack, input)), inputDigest: digestOf(input) })));
  for (const d of decisions) if (!d.allow) for (const reason of d.reasons) policyDeniesTotal.inc({ pack: d.pack, reason: reasonLabel(reason) });
  return decisions;
}

/** `pii_detected:email@request.inputs.x` → `pii_detected:email`: paths would explode the label set. */
function reasonLabel(reason: string): string {
  return reason.split('@')[0]!.slice(0, 64);
}

/** Estimated cost of one run: the sum of its tasks' package costs (retries not counted). */
export function estimateRunCostUsd(manifest: Manifest): number {
  return manifest.tasks.reduce((sum, t) => sum + (isKnownPackage(t.uses) ? Number(taskPackages[t.uses].costUsd) : 0), 0);
}

export async function evaluatePublish(deps: Deps, actor: Actor, wf: WorkflowFacts, isRollback: boolean): Promise<PolicyOutcome> {
  const base = { action: 'publish' as const, actor: policyActor(actor) };
  const decisions = await decideAll(deps, [
    ['access', base],
    ['pii', { ...base, workflow: policyWorkflow(wf, true) }],
    // The error budget's freeze (spec §9) or the manual MC_CHANGE_FREEZE override.
    ['freeze', { ...base, freeze: { active: await isChangeFrozen(deps, actor.tenantId), isRollback } }],
  ]);
  return { allowed: decisions.every((d) => d.allow), decisions, phase: 'publish', action: 'publish', actor, workflowId: wf.id };
}

export async function evaluateExecute(
  deps: Deps,
  actor: Actor,
  wf: WorkflowFacts,
  request: { region: string; inputs: Record<string, unknown> },
  phase: 'plan' | 'execute' = 'execute',
): Promise<PolicyOutcome & { costEstimateUsd: number }> {
  const base = { action: 'execute' as const, actor: policyActor(actor) };
  const runCostUsd = estimateRunCostUsd(wf.manifest);
  const decisions = await decideAll(deps, [
    ['access', base],
    ['residency', { ...base, workflow: policyWorkflow(wf, false), request: { region: request.region } }],
    ['pii', { ...base, workflow: policyWorkflow(wf, false), request: { region: request.region, inputs: request.inputs } }],
    [
      'budget',
      {
        ...base,
        budget: {
          runCostUsd,
          perRunLimitUsd: deps.config.MC_BUDGET_PER_RUN_USD,
          tenantWindowCostUsd: await windowSpendUsd(deps.db, actor.tenantId, deps.config.MC_BUDGET_WINDOW_HOURS),
          tenantWindowLimitUsd: deps.config.MC_BUDGET_TENANT_WINDOW_USD,
          windowHours: deps.config.MC_BUDGET_WINDOW_HOURS,
        },
      },
    ],
  ]);
  return { allowed: decisions.every((d) => d.allow), decisions, phase, action: 'execute', actor, workflowId: wf.id, costEstimateUsd: runCostUsd };
}

/** Writes every decision (row + `mc.policy.decision` event) on the caller's transaction. */
export async function recordDecisions(tx: Queryable, outcome: PolicyOutcome, executionId: string | null): Promise<void> {
  await insertDecisions(
    tx,
    outcome.decisions.map((d) => ({
      tenantId: outcome.actor.tenantId,
      decisionId: d.decisionId,
      pack: d.pack,
      allow: d.allow,
      reasons: d.reasons,
      bundleDigest: d.bundleDigest,
      backend: d.backend,
      latencyMs: d.latencyMs,
      phase: outcome.phase,
      action: outcome.action,
      actorSub: outcome.actor.sub,
      workflowId: outcome.workflowId,
      executionId,
      inputDigest: d.inputDigest,
    })),
  );
  await appendAuditEvents(
    tx,
    outcome.decisions.map((d) => ({
      tenantId: outcome.actor.tenantId,
      type: 'mc.policy.decision' as const,
      actor: { sub: outcome.actor.sub, ...(outcome.actor.ip ? { ip: outcome.actor.ip } : {}) },
      subject: { workflowId: outcome.workflowId, ...(executionId ? { executionId } : {}) },
      data: { decisionId: d.decisionId, pack: d.pack, allow: d.allow, reasons: d.reasons, phase: outcome.phase, bundleDigest: d.bundleDigest, backend: d.backend, latencyMs: d.latencyMs },
    })),
  );
}

/** A denied outcome: recorded in its own transaction (the request itself writes nothing else), then refused. */
export async function refuse(deps: Deps, outcome: PolicyOutcome): Promise<never> {
  await deps.db.transaction((tx) => recordDecisions(tx, outcome, null));
  const denied = outcome.decisions.filter((d) => !d.allow);
  const first = denied[0]!;
  throw new AppError('POLICY_DENIED', `denied by policy pack "${first.pack}": ${first.reasons.join(', ')}`, {
    details: {
      pack: first.pack,
      reasons: first.reasons,
      denials: denied.map((d) => ({ pack: d.pack, reasons: d.reasons, decisionId: d.decisionId })),
    },
  });
}

export interface DecisionView {
  decisionId: string;
  pack: string;
  allow: boolean;
  reasons: string[];
  latencyMs: number;
  bundleDigest: string;
  backend: string;
}

export function decisionView(d: DecisionView): DecisionView {
  return { decisionId: d.decisionId, pack: d.pack, allow: d.allow, reasons: d.reasons, latencyMs: d.latencyMs, bundleDigest: d.bundleDigest, backend: d.backend };
}
