import { Elysia } from 'elysia';
import type { Deps } from '../deps.ts';
import { disclosurePack } from './service.ts';

/**
 * `GET /api/executions/:id/disclosure.tgz` (spec §14 and the `make disclose` target). Errors are
 * thrown as AppErrors and rendered by the app's one error handler, as in http/rest-routes.ts.
 */
export function disclosureRoutes(deps: Deps) {
  return new Elysia({ name: 'mc-disclosure', prefix: '/api' }).get('/executions/:id/disclosure.tgz', async ({ params, set }) => {
    const pack = await disclosurePack(deps, params.id);
    set.headers['content-type'] = 'application/gzip';
    set.headers['content-disposition'] = `attachment; filename="${pack.fileName}"`;
    set.headers['cache-control'] = 'no-store';
    return new Response(pack.bytes, { headers: set.headers as Record<string, string> });
  });
}
