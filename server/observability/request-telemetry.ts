import type { Span } from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { TraceContext } from '@mc/shared/trace-context';
import { traceContextFrom } from '@mc/shared/trace-context';
import { httpRequestsTotal } from './metrics.ts';
import { contextFromTraceparent, SpanKind, SpanStatusCode, traceLogKeys, traceparentOf, tracer } from './tracing.ts';

/**
 * One HTTP request's telemetry: its span (continuing the caller's `traceparent`), the actor once
 * admitted, and at the end one JSON log line plus `http_requests_total`. Kept beside the Request
 * object, so nothing outlives it.
 */
interface InFlight {
  span: Span;
  started: number;
  actorSub?: string;
}
const inFlight = new WeakMap<Request, InFlight>();

/** Paths scraped or probed every few seconds: logged at debug, not info. */
const quietRoutes = new Set(['/metrics', '/healthz', '/readyz']);

export function beginRequest(request: Request): void {
  const url = new URL(request.url);
  const span = tracer().startSpan(
    `${request.method} ${url.pathname.startsWith('/trpc/') ? url.pathname : 'http'}`,
    { kind: SpanKind.SERVER, attributes: { 'http.request.method': request.method, 'url.path': url.pathname } },
    contextFromTraceparent(request.headers.get('traceparent')),
  );
  inFlight.set(request, { span, started: performance.now() });
}

/** The trace context handlers pass on (job payloads, execution rows): the request span's. */
export function requestTrace(request: Request): TraceContext {
  const entry = inFlight.get(request);
  if (!entry) return traceContextFrom(request.headers.get('traceparent'));
  const c = entry.span.spanContext();
  const traceparent = traceparentOf(entry.span);
  return { traceId: c.traceId, parentSpanId: c.spanId, sampled: traceparent.endsWith('-01'), traceparent };
}

export function requestSpan(request: Request): Span | undefined {
  return inFlight.get(request)?.span;
}

/** Called by the admission gate once it knows who is calling. */
export function noteRequestActor(request: Request, sub: string): void {
  const entry = inFlight.get(request);
  if (entry) entry.actorSub = sub;
}

export function endRequest(logger: Logger, request: Request, info: { route: string; status: number; params?: Record<string, string> | undefined }): void {
  httpRequestsTotal.inc({ method: request.method, route: info.route, status: String(info.status) });
  const entry = inFlight.get(request);
  if (!entry) return;
  inFlight.delete(request);
  const durationMs = Math.round((performance.now() - entry.started) * 1000) / 1000;
  entry.span.setAttributes({ 'http.route': info.route, 'http.response.status_code': info.status });
  // tRPC keeps its procedure path (`/trpc/executions.start`); REST takes the route pattern.
  if (info.route !== '/trpc/*') entry.span.updateName(`${request.method} ${info.route}`);
  if (info.status >= 500) entry.span.setStatus({ code: SpanStatusCode.ERROR });
  entry.span.end();
  const id = info.params?.id;
  const subject = id && info.route.startsWith('/api/executions/:id') ? { 'exec.id': id } : id && info.route.startsWith('/api/workflows/:id') ? { 'workflow.id': id } : {};
  const line = {
    ...traceLogKeys(entry.span),
    ...(entry.actorSub ? { 'actor.sub': entry.actorSub } : {}),
    ...subject,
    method: request.method,
    route: info.route,
    status: info.status,
    duration_ms: durationMs,
  };
  if (quietRoutes.has(info.route)) logger.debug(line, 'request');
  else logger.info(line, 'request');
}
