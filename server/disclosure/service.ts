import type { Actor } from '@mc/shared/actor';
import type { Deps } from '../deps.ts';
import { parseId } from '../workflows/service.ts';
import { buildDisclosurePack, type DisclosurePack } from './disclosure-pack.ts';

/** The disclosure pack of an execution of the caller's tenant (spec §14). No HTTP here: routes.ts serves it. */
export function disclosurePack(deps: Deps, rawExecutionId: unknown, actor: Pick<Actor, 'tenantId'>): Promise<DisclosurePack> {
  return buildDisclosurePack(deps, parseId(rawExecutionId, 'execution id'), actor);
}
