import { Elysia } from 'elysia';
import { admit } from '../auth/admit.ts';
import type { Deps } from '../deps.ts';
import { disclosurePack } from './service.ts';

/**
 * `GET /api/executions/:id/disclosure.tgz` (spec §14 and the `make disclose` target). The caller
 * is authenticated and needs the `read` action, as every read route; the pack is scoped to the
 * caller's tenant. Errors are thrown as AppErrors and rendered by the app's one error handler.
 */
export function disclosureRoutes(deps: Deps) {
  return new Elysia({ name: 'mc-disclosure', prefix: '/api' }).get('/executions/:id/disclosure.tgz', async ({ params, request, server, set }) => {
    const actor = await admit(deps, request, server?.requestIP(request)?.address, 'read');
    const pack = await disclosurePack(deps, params.id, actor);
    set.headers['content-type'] = 'application/gzip';
    set.headers['content-disposition'] = `attachment; filename="${pack.fileName}"`;
    set.headers['cache-control'] = 'no-store';
    return new Response(pack.bytes, { headers: set.headers as Record<string, string> });
  });
}
