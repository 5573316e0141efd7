import type { Actor } from '@mc/shared/actor';
import { AppError } from '@mc/shared/errors';
import type { PolicyAction } from '@mc/shared/policy';
import type { Deps } from '../deps.ts';
import { policyDeniesTotal } from '../observability/metrics.ts';

/** What a procedure or route asks of its caller: an action of the access pack, or nothing (public). */
export type AccessRule = PolicyAction | 'public';

/** Actions that need a fresh or strong OIDC login (step-up); API tokens are issued for automation and pass. */
const stepUpActions: ReadonlySet<PolicyAction> = new Set(['publish', 'execute']);

/**
 * Runs before every handler, tRPC and REST alike: the access pack decides whether the actor's
 * role may take the action. A denial is a 403 naming the role and action; the PDP failing is a
 * denial too (fail closed).
 */
export async function authorize(deps: Deps, actor: Actor, action: PolicyAction): Promise<void> {
  const decision = await deps.pdp.decide('access', { action, actor: { sub: actor.sub, role: actor.role, tenant: actor.tenantName } });
  if (!decision.allow) {
    for (const reason of decision.reasons) policyDeniesTotal.inc({ pack: 'access', reason: reason.split(':')[0]!.slice(0, 64) });
    const pdpDown = decision.reasons.some((r) => r === 'pdp_unavailable' || r === 'pdp_error');
    const message = pdpDown ? `denied: the policy decision point did not answer (fail closed); retry when it is back` : `role ${actor.role} may not ${action}`;
    throw new AppError('FORBIDDEN', message, { details: { pack: 'access', reasons: decision.reasons, decisionId: decision.decisionId } });
  }
  if (stepUpActions.has(action) && !actor.stepUp) {
    throw new AppError('UNAUTHORIZED', `${action} needs a recent or stronger sign-in (step-up)`, {
      wwwAuthenticate: deps.oidc?.stepUpChallenge() ?? 'Bearer realm="mc", error="insufficient_user_authentication"',
    });
  }
}
