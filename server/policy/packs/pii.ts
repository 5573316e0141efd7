import { findPii } from '@mc/shared/pii-detection';
import type { DataClassification } from '@mc/shared/policy';
import type { PackRule } from './pack-input.ts';

/**
 * Spec §1 "Info Disclosure" / §3: PII may only flow through workflows classified `regulated`
 * (the class that exists for PII/PHI and carries its controls). Anything else with PII in its
 * defaults, task `with` values or execution inputs is denied, one reason per kind and path.
 * Mirror of policy/rego/pii.rego.
 */
export const piiAllowedClassifications: ReadonlySet<DataClassification> = new Set(['regulated']);

export const piiPack: PackRule<'pii'> = ({ workflow, request }) => {
  if (piiAllowedClassifications.has(workflow.dataClassification)) return [];
  const roots: Array<[Array<string | number>, unknown]> = [];
  if (workflow.defaults !== undefined) roots.push([['workflow', 'defaults'], workflow.defaults]);
  workflow.tasks?.forEach((task, i) => {
    if (task.with !== undefined) roots.push([['workflow', 'tasks', i, 'with'], task.with]);
  });
  if (request?.inputs !== undefined) roots.push([['request', 'inputs'], request.inputs]);
  return roots.flatMap(([base, value]) => findPii(value, base).map((f) => `pii_detected:${f.kind}@${f.path}`));
};
