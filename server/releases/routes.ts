import { AppError } from '@mc/shared/errors';
import { idSchema } from '@mc/shared/api';
import type { Deps } from '../deps.ts';
import { restRoutes, type RestRequest, type RestRoute } from '../http/rest-routes.ts';
import { setErrorBudgetGaugeSource } from '../observability/metrics.ts';
import { getErrorBudget, refreshErrorBudgetGauges } from './error-budget-service.ts';
import { listIncidents } from './incident-service.ts';
import * as releases from './service.ts';

const releaseId = (r: RestRequest) => {
  const parsed = idSchema.safeParse(r.params.id);
  if (!parsed.success) throw new AppError('VALIDATION', 'release id must be a UUID', { issues: [{ path: 'id', message: 'must be a UUID' }] });
  return parsed.data;
};

const body = (r: RestRequest): Record<string, unknown> => (r.body && typeof r.body === 'object' && !Array.isArray(r.body) ? (r.body as Record<string, unknown>) : {});

const breachRoute = (deps: Deps): RestRoute => ({ method: 'POST', path: '/breach', access: 'admin', handler: (r) => releases.simulateBreach(deps, r.body, r.actor) });

/** The releases' REST paths (under /api, in the route table): one service call each, as the tRPC procedures make. */
export function releaseRestRoutes(deps: Deps): RestRoute[] {
  return [
    { method: 'GET', path: '/releases', access: 'read', handler: (r) => releases.listReleases(deps, { ...r.query, ...(r.query.limit ? { limit: Number(r.query.limit) } : {}) }, r.actor) },
    {
      method: 'POST',
      path: '/releases',
      access: 'execute',
      handler: async (r) => {
        const started = await releases.startRelease(deps, r.body, r.actor);
        r.set.status = started.outcome === 'started' ? 201 : 200;
        return started;
      },
    },
    { method: 'GET', path: '/releases/:id', access: 'read', handler: (r) => releases.getRelease(deps, releaseId(r), r.actor) },
    { method: 'GET', path: '/releases/:id/report', access: 'read', handler: (r) => releases.releaseReport(deps, releaseId(r), r.actor) },
    { method: 'POST', path: '/releases/:id/promote', access: 'execute', handler: (r) => releases.promoteRelease(deps, { ...body(r), id: releaseId(r) }, r.actor) },
    { method: 'POST', path: '/releases/:id/rollback', access: 'execute', handler: (r) => releases.rollbackRelease(deps, { ...body(r), id: releaseId(r) }, r.actor) },
    { method: 'GET', path: '/error-budget', access: 'read', handler: (r) => getErrorBudget(deps, r.actor) },
    { method: 'GET', path: '/incidents', access: 'read', handler: () => listIncidents(deps) },
    breachRoute(deps),
  ];
}

/**
 * Spec §13's `POST $CM_URL/breach` at the root as well as under /api, and the error-budget
 * gauges' source for /metrics in this server process.
 */
export function releaseRootRoutes(deps: Deps) {
  setErrorBudgetGaugeSource(() => refreshErrorBudgetGauges(deps));
  return restRoutes(deps, [breachRoute(deps)], { prefix: '', name: 'mc-rest-breach' });
}
