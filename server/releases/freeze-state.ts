import type { Config } from '@mc/shared/config';
import type { Queryable } from '../db/client.ts';
import { findBudgetState } from './ops-repository.ts';

/**
 * Whether the freeze pack's `freeze.active` holds for a tenant: the error-budget freeze (spec §9,
 * entered and lifted by `error-budget.ts`) or the manual override MC_CHANGE_FREEZE.
 */
export async function isChangeFrozen(deps: { db: Queryable; config: Pick<Config, 'MC_CHANGE_FREEZE'> }, tenantId: string): Promise<boolean> {
  if (deps.config.MC_CHANGE_FREEZE) return true;
  const state = await findBudgetState(deps.db, tenantId);
  return state?.freezeActive ?? false;
}
