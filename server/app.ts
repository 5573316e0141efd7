import { Elysia } from 'elysia';
import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { AppError, isAppError } from '@mc/shared/errors';
import type { Deps } from './deps.ts';
import { errorBody, httpStatusOf, toAppError } from './http/error-mapping.ts';
import { disclosureRoutes } from './disclosure/routes.ts';
import { healthRoutes } from './http/health-routes.ts';
import { dashboardRoutes } from './http/dashboard-routes.ts';
import { openApiDocument } from './http/openapi.ts';
import { restRoutes } from './http/rest-routes.ts';
import { recordApiResponse } from './releases/api-request-stats.ts';
import { releaseRootRoutes } from './releases/routes.ts';
import { metricsContentType, renderMetrics } from './observability/scrape.ts';
import { beginRequest, endRequest, requestSpan, requestTrace } from './observability/request-telemetry.ts';
import { context, trace } from './observability/tracing.ts';
import { appRouter } from './trpc/app-router.ts';
import { admit } from './auth/admit.ts';
import type { AccessRule } from './auth/authorize.ts';

/**
 * Subscriptions answer over SSE: once the stream is open (200), tRPC can only report a refusal
 * inside it. They are admitted here first, so a caller without the right gets a plain 401/403/429.
 */
const subscriptionAccess = new Map(
  Object.entries(appRouter._def.procedures as unknown as Record<string, { _def: { type: string; meta?: unknown } }>)
    .filter(([, p]) => p._def.type === 'subscription')
    .map(([name, p]) => [name, (p._def.meta as { access?: AccessRule } | undefined)?.access]),
);

/** The HTTP surface of the server process. Tests drive it with `app.handle(request)`, no port needed. */
export function createApp(deps: Deps) {
  const openapi = openApiDocument();
  const trpc = async ({ request, server }: { request: Request; server: { requestIP(r: Request): { address: string } | null } | null }) => {
    const access = subscriptionAccess.get(new URL(request.url).pathname.slice('/trpc/'.length));
    if (access && access !== 'public') await admit(deps, request, server?.requestIP(request)?.address, access);
    // Procedures run inside the request span, so their log lines carry its trace_id and span_id.
    const span = requestSpan(request);
    const handle = () => fetchRequestHandler({
      endpoint: '/trpc',
      req: request,
      router: appRouter,
      createContext: () => ({
        deps,
        request,
        ip: server?.requestIP(request)?.address,
        trace: requestTrace(request),
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
    return span ? context.with(trace.setSpan(context.active(), span), handle) : handle();
  };

  return (
    new Elysia({ name: 'mc-server' })
      .onRequest(({ request }) => beginRequest(request))
      .onAfterResponse(({ request, route, set, params }) => {
        // The route pattern, not the path: ids in paths would make one series per execution.
        const status = typeof set.status === 'number' ? set.status : Number(set.status ?? 200) || 200;
        endRequest(deps.logger, request, { route: route || 'unmatched', status, params: params as Record<string, string> | undefined });
        // Per-minute API counts in Postgres, across server processes: the Sev1 5xx criterion (server/releases/).
        recordApiResponse(deps, new URL(request.url).pathname, status);
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
      .use(releaseRootRoutes(deps))
      .use(disclosureRoutes(deps))
      .get('/api/openapi.json', () => openapi)
      .get('/metrics', async ({ set }) => {
        set.headers['content-type'] = metricsContentType;
        return renderMetrics(deps);
      })
      // tRPC v11 through its fetch adapter; GET and POST only (see STACK-NOTES: `.all` loses GETs to a SPA fallback).
      .get('/trpc/*', trpc)
      .post('/trpc/*', trpc)
      // The dashboard (web/build), bull-board at /queues, and the SPA fallback; the landing page while web/ is unbuilt.
      .use(dashboardRoutes(deps))
  );
}

export type App = ReturnType<typeof createApp>;
