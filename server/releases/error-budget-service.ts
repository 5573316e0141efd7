import type { Actor } from '@mc/shared/actor';
import type { ErrorBudgetView } from '@mc/shared/releases';
import { errorBudgetBurnRate, errorBudgetRemainingRatio } from '../observability/metrics.ts';
import { budgetMinutes, evaluateErrorBudget, type BudgetEvaluation } from './error-budget.ts';
import * as ops from './ops-repository.ts';
import { listActiveReleases } from './repository.ts';
import { applyRollback, type ReleaseDeps } from './transitions.ts';

export const errorBudgetActor = 'system:error-budget';

export interface TenantBudgetOutcome {
  tenantId: string;
  evaluation: BudgetEvaluation;
  alertsRaised: string[];
  rolledBack: string[];
}

/**
 * Evaluates every tenant's error budget at `now` (spec §9): stores the evaluation and the freeze
 * state, raises each alert once per period (rows in `ops_alerts`), and rolls back the tenant's
 * active canaries when the budget burns faster than 10 %/h over 15 minutes.
 */
export async function evaluateErrorBudgets(deps: ReleaseDeps, now: Date): Promise<TenantBudgetOutcome[]> {
  const policy = { slo: deps.config.MC_SLO_TARGET, windowDays: deps.config.MC_SLO_WINDOW_DAYS, minSamples: deps.config.MC_CANARY_MIN_SAMPLES };
  const from = new Date(now.getTime() - (policy.windowDays + 1) * 86_400_000);
  const [tenants, buckets] = await Promise.all([ops.listLiveTenants(deps.db), ops.outcomeBuckets(deps.db, from, now)]);
  const outcomes: TenantBudgetOutcome[] = [];
  for (const tenant of tenants) {
    const previous = await ops.findBudgetState(deps.db, tenant.id);
    const evaluation = evaluateErrorBudget({
      now,
      policy,
      buckets: buckets.get(tenant.id) ?? [],
      previous: { active: previous?.freezeActive ?? false, since: previous?.freezeSince ?? null },
    });
    const saved = await ops.saveBudgetState(
      deps.db,
      {
        tenantId: tenant.id,
        freezeActive: evaluation.freeze.active,
        freezeSince: evaluation.freeze.since,
        remainingRatio: round(evaluation.remainingRatio),
        burnRatePerHour: round(evaluation.burnRatePerHour),
        burnLast24h: round(evaluation.burnLast24h),
        evaluation,
        evaluatedAt: now,
      },
      previous?.version ?? null,
    );
    // Another evaluator stored its result first: it raises the alerts and acts.
    if (!saved) continue;
    const alertsRaised: string[] = [];
    const rolledBack: string[] = [];
    if (evaluation.autoRollback) {
      for (const release of await listActiveReleases(deps.db, tenant.id)) {
        const rolled = await applyRollback(
          deps,
          release.id,
          { reason: 'error_budget_burn', actor: errorBudgetActor, evidence: { burnRatePerHour: evaluation.burnRatePerHour, last15m: evaluation.last15m, budgetMinutes: evaluation.budgetMinutes } },
          now,
        );
        if (rolled) rolledBack.push(release.id);
      }
    }
    for (const alert of evaluation.alerts) {
      const raised = await ops.insertAlert(deps.db, {
        tenantId: tenant.id,
        kind: alert.kind,
        dedupeKey: `${alert.kind}:${tenant.id}:${alert.period}`,
        at: now,
        data: alert.kind === 'budget_auto_rollback' ? { ...alert.data, releases: rolledBack } : alert.data,
      });
      if (raised) {
        alertsRaised.push(alert.kind);
        deps.logger.warn({ tenant: tenant.name, alert: alert.kind, data: alert.data }, 'error budget alert');
      }
    }
    outcomes.push({ tenantId: tenant.id, evaluation, alertsRaised, rolledBack });
  }
  return outcomes;
}

const round = (n: number) => Math.round(n * 1e6) / 1e6;

export async function getErrorBudget(deps: ReleaseDeps, actor: Pick<Actor, 'tenantId'>): Promise<ErrorBudgetView> {
  const [state, alerts] = await Promise.all([ops.findBudgetState(deps.db, actor.tenantId), ops.listAlerts(deps.db, actor.tenantId, 50)]);
  const evaluation = state?.evaluation as BudgetEvaluation | undefined;
  return {
    slo: deps.config.MC_SLO_TARGET,
    windowDays: deps.config.MC_SLO_WINDOW_DAYS,
    budgetMinutes: budgetMinutes({ slo: deps.config.MC_SLO_TARGET, windowDays: deps.config.MC_SLO_WINDOW_DAYS }),
    remainingRatio: state?.remainingRatio ?? 1,
    burnRatePerHour: state?.burnRatePerHour ?? 0,
    burnLast24h: state?.burnLast24h ?? 0,
    dailyBurn: (evaluation?.days ?? []).slice(-7).map((d) => ({ day: d.day, burn: d.burn })),
    freeze: { active: deps.config.MC_CHANGE_FREEZE || (state?.freezeActive ?? false), since: state?.freezeSince ?? null, manual: deps.config.MC_CHANGE_FREEZE },
    evaluatedAt: state?.evaluatedAt ?? null,
    alerts: alerts.map((a) => ({ id: a.id, kind: a.kind, at: a.at, data: a.data as Record<string, unknown> })),
  };
}

let gaugeRefresh: { at: number; done: Promise<void> } | null = null;

/** Sets the error-budget gauges from the stored evaluations (what any worker last computed); at most once a second. */
export function refreshErrorBudgetGauges(deps: Pick<ReleaseDeps, 'db' | 'logger'>): Promise<void> {
  if (gaugeRefresh && Date.now() - gaugeRefresh.at < 1000) return gaugeRefresh.done;
  const done = ops
    .listBudgetStates(deps.db)
    .then((states) => {
      errorBudgetRemainingRatio.reset();
      errorBudgetBurnRate.reset();
      for (const s of states) {
        errorBudgetRemainingRatio.set({ tenant: s.tenantName }, s.remainingRatio);
        errorBudgetBurnRate.set({ tenant: s.tenantName, window: '15m' }, s.burnRatePerHour);
        errorBudgetBurnRate.set({ tenant: s.tenantName, window: '24h' }, s.burnLast24h);
      }
    })
    .catch((err: unknown) => deps.logger.debug({ err }, 'error budget gauges not refreshed'));
  gaugeRefresh = { at: Date.now(), done };
  return done;
}
