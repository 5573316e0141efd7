import type { PolicyAction } from '@mc/shared/policy';
import type { PackRule } from './pack-input.ts';

/**
 * Role × action (spec §15, extended): admin everything; operators run; composers author and
 * publish; viewers only look. A Map, not an object, so a role named `constructor` finds nothing.
 * Mirror of policy/rego/access.rego.
 */
export const roleGrants: ReadonlyMap<string, ReadonlySet<PolicyAction>> = new Map([
  ['admin', new Set<PolicyAction>(['read', 'plan', 'create', 'publish', 'execute', 'admin'])],
  ['operator', new Set<PolicyAction>(['read', 'plan', 'execute'])],
  ['composer', new Set<PolicyAction>(['read', 'plan', 'create', 'publish'])],
  ['viewer', new Set<PolicyAction>(['read', 'plan'])],
]);

export const accessPack: PackRule<'access'> = (input) => {
  const granted = roleGrants.get(input.actor.role);
  return granted?.has(input.action) ? [] : [`action_not_permitted:${input.actor.role}:${input.action}`];
};
