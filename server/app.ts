import { Elysia } from 'elysia';
import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { AppError, isAppError } from '@mc/shared/errors';
import { traceContextFrom } from '@mc/shared/trace-context';
import type { Deps } from './deps.ts';
import { errorBody, httpStatusOf, toAppError } from './http/error-mapping.ts';
import { disclosureRoutes } from './disclosure/routes.ts';
import { healthRoutes } from './http/health-routes.ts';
import { dashboardRoutes } from './http/dashboard-routes.ts';
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
        request,
        ip: server?.requestIP(request)?.address,
        trace: traceContextFrom(request.headers.get('traceparent')),
      }),
      // Challenges and back-off hints travel as headers, as they do on the REST paths.
      responseMeta: ({ errors }) => {
        const headers = new Headers();
        for (const e of errors) {
          const app = toAppError(e.cause ?? e);
          if (app.wwwAuthenticate) headers.set('www-authenticate', app.wwwAuthenticate);
          if (app.retryAfterSeconds !== undefined) headers.set('retry-after', String(app.retryAfterSeconds));
        }
        return { headers };
      },
    });

  return (
    new Elysia({ name: 'mc-server' })
      .onAfterResponse(({ request, route, set }) => {
        // The route pattern, not the path: ids in paths would make one series per execution.
        httpRequestsTotal.inc({ method: request.method, route: route || 'unmatched', status: String(set.status ?? 200) });
      })
      .onError(({ code, error, set }) => {
        // Elysia's own refusals (unparseable body, unknown route) get the same error body as ours.
        // Our own errors first: Elysia reads `error.code`, so an AppError NOT_FOUND would pass for an unknown route.
        const app = isAppError(error)
          ? error
          : code === 'PARSE'
            ? new AppError('VALIDATION', 'request body is not valid JSON', { issues: [{ path: '', message: 'malformed JSON' }] })
            : code === 'NOT_FOUND'
              ? new AppError('NOT_FOUND', 'no such route; see /api/openapi.json')
              : toAppError(error);
        if (app.code === 'INTERNAL') deps.logger.error({ err: error }, 'request failed');
        set.status = httpStatusOf[app.code];
        if (app.retryAfterSeconds !== undefined) set.headers['retry-after'] = String(app.retryAfterSeconds);
        if (app.wwwAuthenticate) set.headers['www-authenticate'] = app.wwwAuthenticate;
        return errorBody(app);
      })
      .use(healthRoutes(deps))
      .use(restRoutes(deps))
      .use(disclosureRoutes(deps))
      .get('/api/openapi.json', () => openapi)
      .get('/metrics', async ({ set }) => {
        set.headers['content-type'] = registry.contentType;
        return registry.metrics();
      })
      // tRPC v11 through its fetch adapter; GET and POST only (see STACK-NOTES: `.all` loses GETs to a SPA fallback).
      .get('/trpc/*', trpc)
      .post('/trpc/*', trpc)
      // The dashboard (web/build), bull-board at /queues, and the SPA fallback; the landing page while web/ is unbuilt.
      .use(dashboardRoutes(deps))
  );
}

export type App = ReturnType<typeof createApp>;
