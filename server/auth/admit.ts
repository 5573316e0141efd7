import type { Actor } from '@mc/shared/actor';
import { AppError } from '@mc/shared/errors';
import type { PolicyAction } from '@mc/shared/policy';
import type { Deps } from '../deps.ts';
import { authenticate } from './authenticate.ts';
import { authorize } from './authorize.ts';
import { noteRequestActor } from '../observability/request-telemetry.ts';

const windowMs = 60_000;

/**
 * The one gate in front of every handler (tRPC procedures, REST routes, disclosure, /queues):
 * who is calling (401), whether they are within their rate limits (429 with Retry-After, per
 * token and per tenant), and whether the access pack lets their role take the action (403).
 */
export async function admit(deps: Deps, request: Request, ip: string | undefined, action: PolicyAction): Promise<Actor> {
  // A request admitted once for this action (a subscription is admitted before its SSE stream opens) is not counted twice.
  const earlier = admitted.get(request);
  if (earlier?.action === action) return earlier.actor;
  const actor = await authenticate(deps, request, ip);
  noteRequestActor(request, actor.sub);
  await enforceRateLimits(deps, actor);
  await authorize(deps, actor, action);
  admitted.set(request, { action, actor });
  return actor;
}

const admitted = new WeakMap<Request, { action: PolicyAction; actor: Actor }>();

async function enforceRateLimits(deps: Deps, actor: Actor): Promise<void> {
  const caller = actor.tokenId ?? actor.sub;
  // Both windows in one Redis call, all or nothing: a request one limit refuses is counted by neither.
  const [perCaller, perTenant] = await deps.rateLimiter.hitAll([
    { key: `caller:${caller}`, rule: { limit: deps.config.MC_RATE_LIMIT_PER_TOKEN, windowMs } },
    { key: `tenant:${actor.tenantId}`, rule: { limit: deps.config.MC_RATE_LIMIT_PER_TENANT, windowMs } },
  ]);
  for (const [hit, who, limit] of [
    [perCaller!, 'this token', deps.config.MC_RATE_LIMIT_PER_TOKEN],
    [perTenant!, 'this tenant', deps.config.MC_RATE_LIMIT_PER_TENANT],
  ] as const) {
    if (!hit.allowed) {
      throw new AppError('RATE_LIMITED', `rate limit: ${who} may make ${limit} requests a minute; retry after the Retry-After seconds`, {
        retryAfterSeconds: Math.max(1, Math.ceil(hit.retryAfterMs / 1000)),
      });
    }
  }
}
