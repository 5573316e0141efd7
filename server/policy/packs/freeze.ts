import type { PackRule } from './pack-input.ts';

/**
 * A change freeze stops new versions being published; a rollback is how a freeze gets out of
 * trouble, so it stays allowed. Other actions are not affected. Mirror of policy/rego/freeze.rego.
 */
export const freezePack: PackRule<'freeze'> = ({ action, freeze }) =>
  action === 'publish' && freeze.active && !freeze.isRollback ? ['change_freeze'] : [];
