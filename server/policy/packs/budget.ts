import type { PackRule } from './pack-input.ts';

/**
 * Spec §1 abuse case "budget smuggling": a run must fit its own limit AND the tenant's window,
 * counting this run's cost, so many cheap runs cannot add up past the tenant limit. Reaching a
 * limit exactly is allowed. Mirror of policy/rego/budget.rego.
 */
export const budgetPack: PackRule<'budget'> = ({ budget }) => {
  const reasons: string[] = [];
  if (budget.runCostUsd > budget.perRunLimitUsd) reasons.push('run_budget_exceeded');
  if (budget.tenantWindowCostUsd + budget.runCostUsd > budget.tenantWindowLimitUsd) reasons.push('tenant_budget_exceeded');
  return reasons;
};
