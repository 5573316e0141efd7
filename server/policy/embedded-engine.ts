import { pdpReasons, type PolicyPack, type PolicyVerdict } from '@mc/shared/policy';
import { accessPack } from './packs/access.ts';
import { budgetPack } from './packs/budget.ts';
import { freezePack } from './packs/freeze.ts';
import type { PackInput, PackRule } from './packs/pack-input.ts';
import { piiPack } from './packs/pii.ts';
import { residencyPack } from './packs/residency.ts';

/**
 * The packs of policy/rego/ in TypeScript, for `MC_PDP=embedded`. policy/fixtures/*.json hold
 * both implementations to the same answers.
 */
const packRules: { [P in PolicyPack]: PackRule<P> } = {
  access: accessPack,
  pii: piiPack,
  residency: residencyPack,
  budget: budgetPack,
  freeze: freezePack,
};

/** Never throws: a bug in a pack is a deny with `pdp_error`, not an allow or a 500. */
export function evaluatePack<P extends PolicyPack>(pack: P, input: PackInput<P>): PolicyVerdict {
  try {
    const rule: PackRule<P> = packRules[pack];
    const reasons = [...new Set(rule(input))].sort();
    return { allow: reasons.length === 0, reasons };
  } catch {
    // The exception may carry input text (PII): it is not echoed into the decision.
    return { allow: false, reasons: [pdpReasons.error] };
  }
}
