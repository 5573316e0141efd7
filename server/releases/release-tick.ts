import { runCanaryController, type ControllerDecision } from './canary-controller.ts';
import { evaluateErrorBudgets, type TenantBudgetOutcome } from './error-budget-service.ts';
import { detectIncidents, type IncidentOutcome } from './incident-service.ts';
import type { Faults, ReleaseDeps } from './transitions.ts';

/**
 * One run of the release controller (the worker's repeatable job): Sev1 detection first (its
 * containment overrides everything), then the error budget (which may roll canaries back), then
 * the canaries still active are analysed and promoted or rolled back.
 */
export async function runReleaseTick(deps: ReleaseDeps, now: Date, faults?: Faults): Promise<{ incidents: IncidentOutcome[]; budgets: TenantBudgetOutcome[]; canaries: ControllerDecision[] }> {
  const incidents = await detectIncidents(deps, now);
  const budgets = await evaluateErrorBudgets(deps, now);
  const canaries = await runCanaryController(deps, now, faults);
  return { incidents, budgets, canaries };
}
