import { Elysia } from 'elysia';
import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { AppError } from '@mc/shared/errors';
import { traceContextFrom } from '@mc/shared/trace-context';
import { resolveActor } from './auth/actor.ts';
import type { Deps } from './deps.ts';
import { errorBody, httpStatusOf, toAppError } from './http/error-mapping.ts';
import { healthRoutes } from './http/health-routes.ts';
import { landingPage } from './http/landing-page.ts';
import { openApiDocument } from './http/openapi.ts';
import { restRoutes } from './http/rest-routes.ts';
import { httpRequestsTotal, registry } from './observability/metrics.ts';
import { appRouter } from './trpc/app-router.ts';

/** The HTTP surface of the server process. Tests drive it with `app.handle(request)`, no port needed. */
export function createApp(deps: Deps) {
  const openapi = openApiDocument();
  const trpc = ({ request, server }: { request: Request; server: { requestIP(r: Request): { address: string } | null } | null }) =>
    fetchRequestHandler({
      endpoint: '/trpc',
      req: request,
      router: appRouter,
      createContext: () => ({
        deps,
        actor: resolveActor(request, server?.requestIP(request)?.address),
        trace: traceContextFrom(request.headers.get('traceparent')),
      }),
    });

  return (
    new Elysia({ name: 'mc-server' })
      .onAfterResponse(({ request, route, set }) => {
        // The route pattern, not the path: ids in paths would make one series per execution.
        httpRequestsTotal.inc({ method: request.method, route: route || 'unmatched', status: String(set.status ?? 200) });
      })
      .onError(({ code, error, set }) => {
        // Elysia's own refusals (unparseable body, unknown route) get the same error body as ours.
        const app =
          code === 'PARSE'
            ? new AppError('VALIDATION', 'request body is not valid JSON', { issues: [{ path: '', message: 'malformed JSON' }] })
            : code === 'NOT_FOUND'
              ? new AppError('NOT_FOUND', 'no such route; see /api/openapi.json')
              : toAppError(error);
        if (app.code === 'INTERNAL') deps.logger.error({ err: error }, 'request failed');
        set.status = httpStatusOf[app.code];
        if (app.retryAfterSeconds !== undefined) set.headers['retry-after'] = String(app.retryAfterSeconds);
        return errorBody(app);
      })
      .use(healthRoutes(deps))
      .use(restRoutes(deps))
      .get('/api/openapi.json', () => openapi)
      .get('/metrics', async ({ set }) => {
        set.headers['content-type'] = registry.contentType;
        return registry.metrics();
      })
      // tRPC v11 through its fetch adapter; GET and POST only (see STACK-NOTES: `.all` loses GETs to a SPA fallback).
      .get('/trpc/*', trpc)
      .post('/trpc/*', trpc)
      .get('/', ({ set }) => {
        set.headers['content-type'] = 'text/html; charset=utf-8';
        return landingPage();
      })
  );
}

export type App = ReturnType<typeof createApp>;
