import type { Deps } from '../deps.ts';
import { parseId } from '../workflows/service.ts';
import { buildDisclosurePack, type DisclosurePack } from './disclosure-pack.ts';

/** The disclosure pack of an execution (spec §14). No HTTP here: routes.ts serves it. */
export function disclosurePack(deps: Deps, rawExecutionId: unknown): Promise<DisclosurePack> {
  return buildDisclosurePack(deps, parseId(rawExecutionId, 'execution id'));
}
