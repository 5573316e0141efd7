import type { PackRule } from './pack-input.ts';

/** Spec §3: data stays in the workflow's region. Mirror of policy/rego/residency.rego. */
export const residencyPack: PackRule<'residency'> = (input) =>
  input.workflow.region === input.request.region ? [] : ['residency_mismatch'];
