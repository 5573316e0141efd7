import { Elysia } from 'elysia';
import type { z } from 'zod';
import type { Actor } from '@mc/shared/actor';
import { auditListInputSchema, executionListInputSchema, workflowListInputSchema } from '@mc/shared/api';
import { AppError, validationError } from '@mc/shared/errors';
import type { TraceContext } from '@mc/shared/trace-context';
import * as audit from '../audit/service.ts';
import * as events from '../events/service.ts';
import { admit } from '../auth/admit.ts';
import type { AccessRule } from '../auth/authorize.ts';
import type { Deps } from '../deps.ts';
import * as executions from '../executions/service.ts';
import * as control from '../executions/control-service.ts';
import * as schedules from '../schedules/service.ts';
import { eraseExecution } from '../payloads/erase-service.ts';
import * as identity from '../identity/service.ts';
import * as receipts from '../receipts/service.ts';
import { releaseRestRoutes } from '../releases/routes.ts';
import * as workflows from '../workflows/service.ts';
import { sessionCookieName } from './session-cookie.ts';
import { requestTrace } from '../observability/request-telemetry.ts';

export interface PublicRequest {
  headers: Headers;
  trace: TraceContext;
  params: Record<string, string>;
  query: Record<string, string | undefined>;
  body: unknown;
  set: { status?: number | string; headers: Record<string, string | number> };
}

export interface RestRequest extends PublicRequest {
  actor: Actor;
}

/** A route and who may call it; the access pack decides before the handler runs. */
export type RestRoute = { method: 'GET' | 'POST' | 'PUT' | 'DELETE'; path: string } & (
  | { access: 'public'; handler: (req: PublicRequest) => unknown }
  | { access: Exclude<AccessRule, 'public'>; handler: (req: RestRequest) => unknown }
);

const id = (req: RestRequest, what: string) => workflows.parseId(req.params.id, what);

/**
 * The spec's REST paths (and the rest of the API over REST), as a table: each entry's access rule
 * is checked before its handler, and each handler is one service call — the same calls the tRPC
 * procedures make — so the two APIs cannot drift apart.
 */
export function restRouteTable(deps: Deps): RestRoute[] {
  return [
    { method: 'POST', path: '/workflows', access: 'create', handler: (r) => ((r.set.status = 201), workflows.createWorkflow(deps, r.body, r.actor)) },
    { method: 'GET', path: '/workflows', access: 'read', handler: (r) => workflows.listWorkflows(deps, parseQuery(workflowListInputSchema, r.query), r.actor) },
    { method: 'GET', path: '/workflows/:id', access: 'read', handler: (r) => workflows.getWorkflow(deps, id(r, 'workflow id'), r.actor) },
    { method: 'PUT', path: '/workflows/:id', access: 'create', handler: (r) => workflows.updateDraft(deps, id(r, 'workflow id'), r.body, r.actor) },
    { method: 'POST', path: '/workflows/:id/publish', access: 'publish', handler: (r) => workflows.publishWorkflow(deps, id(r, 'workflow id'), r.actor) },
    {
      method: 'POST',
      path: '/workflows/:id/plan',
      access: 'plan',
      handler: (r) => workflows.planWorkflow(deps, { ...(r.body && typeof r.body === 'object' ? r.body : {}), id: id(r, 'workflow id') }, r.actor),
    },
    {
      method: 'POST',
      path: '/executions',
      access: 'execute',
      handler: async (r) => {
        const { execution, created } = await executions.startExecution(deps, r.body, r.actor, { traceId: r.trace.traceId, traceparent: r.trace.traceparent });
        r.set.status = created ? 201 : 200;
        r.set.headers.location = `/api/executions/${execution.id}`;
        return execution;
      },
    },
    { method: 'GET', path: '/executions', access: 'read', handler: (r) => executions.listExecutions(deps, parseQuery(executionListInputSchema, r.query), r.actor) },
    { method: 'GET', path: '/executions/:id', access: 'read', handler: (r) => executions.getExecution(deps, id(r, 'execution id'), r.actor) },
    {
      method: 'POST',
      path: '/executions/:id/erase',
      access: 'admin',
      handler: (r) => eraseExecution(deps, { ...(r.body && typeof r.body === 'object' ? r.body : {}), id: id(r, 'execution id') }, r.actor),
    },
    {
      method: 'GET',
      path: '/executions/:id/receipt',
      access: 'read',
      handler: (r) => {
        const waitMs = r.query.waitMs === undefined ? undefined : Number(r.query.waitMs);
        if (waitMs !== undefined && (!Number.isInteger(waitMs) || waitMs < 0 || waitMs > 300_000)) {
          throw new AppError('VALIDATION', 'waitMs must be an integer from 0 to 300000', { issues: [{ path: 'waitMs', message: 'out of range' }] });
        }
        return receipts.getReceipt(deps, id(r, 'execution id'), r.actor, waitMs);
      },
    },
    { method: 'POST', path: '/executions/:id/receipt/verify', access: 'read', handler: (r) => receipts.verifyReceipt(deps, id(r, 'execution id'), r.actor) },
    // Control of a running execution (docs/architecture/execution-engine.md): the body's fields plus the path's id.
    { method: 'POST', path: '/executions/:id/cancel', access: 'execute', handler: (r) => control.cancelExecution(deps, withId(r, 'execution id'), r.actor) },
    { method: 'POST', path: '/executions/:id/pause', access: 'execute', handler: (r) => control.pauseExecution(deps, withId(r, 'execution id'), r.actor) },
    { method: 'POST', path: '/executions/:id/resume', access: 'execute', handler: (r) => control.resumeExecution(deps, withId(r, 'execution id'), r.actor) },
    { method: 'POST', path: '/executions/:id/signal', access: 'execute', handler: (r) => control.signalExecution(deps, withId(r, 'execution id'), r.actor) },
    { method: 'POST', path: '/executions/:id/approve', access: 'read', handler: (r) => control.decideApproval(deps, withId(r, 'execution id'), r.actor, 'approve') },
    { method: 'POST', path: '/executions/:id/reject', access: 'read', handler: (r) => control.decideApproval(deps, withId(r, 'execution id'), r.actor, 'reject') },
    {
      method: 'POST',
      path: '/executions/:id/rerun',
      access: 'execute',
      handler: async (r) => {
        const execution = await control.rerunExecution(deps, withId(r, 'execution id'), r.actor, { traceId: r.trace.traceId, traceparent: r.trace.traceparent });
        r.set.status = 201;
        r.set.headers.location = `/api/executions/${execution.id}`;
        return execution;
      },
    },
    { method: 'GET', path: '/executions/:id/transitions', access: 'read', handler: (r) => control.executionTransitions(deps, id(r, 'execution id'), r.actor) },
    { method: 'POST', path: '/schedules', access: 'execute', handler: async (r) => ((r.set.status = 201), await schedules.createSchedule(deps, r.body, r.actor)) },
    { method: 'GET', path: '/schedules', access: 'read', handler: (r) => schedules.listSchedules(deps, coerceLimit(r.query), r.actor) },
    { method: 'GET', path: '/schedules/:id', access: 'read', handler: (r) => schedules.getSchedule(deps, { id: id(r, 'schedule id') }, r.actor) },
    { method: 'POST', path: '/schedules/:id/pause', access: 'execute', handler: (r) => schedules.pauseSchedule(deps, { id: id(r, 'schedule id') }, r.actor) },
    { method: 'POST', path: '/schedules/:id/resume', access: 'execute', handler: (r) => schedules.resumeSchedule(deps, { id: id(r, 'schedule id') }, r.actor) },
    { method: 'DELETE', path: '/schedules/:id', access: 'execute', handler: (r) => schedules.deleteSchedule(deps, { id: id(r, 'schedule id') }, r.actor) },
    {
      method: 'GET',
      path: '/executions/:id/logs',
      access: 'read',
      handler: async (r) => {
        const lines = await executions.executionLogs(deps, id(r, 'execution id'), r.actor);
        r.set.headers['content-type'] = 'application/x-ndjson';
        return lines.map((l) => JSON.stringify(l)).join('\n') + (lines.length > 0 ? '\n' : '');
      },
    },
    { method: 'GET', path: '/keys', access: 'public', handler: () => receipts.publicKeys(deps) },
    { method: 'GET', path: '/audit/events', access: 'read', handler: (r) => audit.listAuditEvents(deps, parseQuery(auditListInputSchema, r.query), r.actor) },
    { method: 'POST', path: '/audit/verify', access: 'admin', handler: () => audit.verifyAudit(deps) },
    // mc.events.v1 for consumers: `?after=<seq>` (the previous page's nextAfter), `limit`, `type`; same service as events.list.
    { method: 'GET', path: '/events', access: 'read', handler: (r) => events.listEvents(deps, parseQuery(auditListInputSchema, r.query), r.actor) },
    { method: 'GET', path: '/me', access: 'read', handler: (r) => ({ sub: r.actor.sub, role: r.actor.role, tenant: r.actor.tenantName, method: r.actor.method }) },
    {
      // For browser pages that cannot send a header (bull-board at /queues): the caller's own
      // bearer token as an HttpOnly, SameSite=Strict cookie scoped to that path.
      method: 'POST',
      path: '/session',
      access: 'read',
      handler: (r) => {
        const token = /^Bearer\s+(\S+)$/i.exec(r.headers.get('authorization') ?? '')?.[1];
        if (!token) throw new AppError('VALIDATION', 'a session is made from an Authorization: Bearer header');
        r.set.headers['set-cookie'] = `${sessionCookieName}=${encodeURIComponent(token)}; Path=/queues; HttpOnly; SameSite=Strict; Max-Age=43200`;
        return { ok: true };
      },
    },
    { method: 'DELETE', path: '/session', access: 'public', handler: (r) => ((r.set.headers['set-cookie'] = `${sessionCookieName}=; Path=/queues; HttpOnly; SameSite=Strict; Max-Age=0`), { ok: true }) },
    { method: 'POST', path: '/tokens', access: 'admin', handler: (r) => ((r.set.status = 201), identity.createToken(deps, r.body, r.actor)) },
    { method: 'GET', path: '/tokens', access: 'admin', handler: (r) => identity.listTokens(deps, r.actor) },
    { method: 'DELETE', path: '/tokens/:id', access: 'admin', handler: (r) => identity.revokeToken(deps, id(r, 'token id'), r.actor) },
    { method: 'POST', path: '/tenants', access: 'admin', handler: (r) => ((r.set.status = 201), identity.createTenant(deps, r.body, r.actor)) },
    { method: 'GET', path: '/tenants', access: 'admin', handler: (r) => identity.listTenants(deps, r.actor) },
    ...releaseRestRoutes(deps),
  ];
}

export function restRoutes(deps: Deps, table: RestRoute[] = restRouteTable(deps), opts: { prefix?: string; name?: string } = {}) {
  const app = new Elysia({ name: opts.name ?? 'mc-rest', prefix: opts.prefix ?? '/api' });
  for (const route of table) {
    app.route(route.method, route.path, async ({ request, server, params, query, body, set }) => {
      const ip = server?.requestIP(request)?.address;
      const trace = requestTrace(request);
      const req = { headers: request.headers, trace, params: params as Record<string, string>, query: query as Record<string, string | undefined>, body, set: set as RestRequest['set'] };
      if (route.access === 'public') return route.handler(req);
      const actor = await admit(deps, request, ip, route.access);
      return route.handler({ ...req, actor });
    });
  }
  return app;
}

/** A control request's body with the path's id (the path wins). */
function withId(r: RestRequest, what: string): Record<string, unknown> {
  return { ...(r.body && typeof r.body === 'object' ? (r.body as Record<string, unknown>) : {}), id: id(r, what) };
}

function coerceLimit(query: Record<string, string | undefined>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(query).map(([k, v]) => [k, k === 'limit' && v !== undefined && /^\d+$/.test(v) ? Number(v) : v]));
}

/** Query strings arrive as text: numbers are coerced before the shared schema validates them. */
function parseQuery<T>(schema: z.ZodType<T>, query: Record<string, string | undefined>): T {
  const coerced = Object.fromEntries(Object.entries(query).map(([k, v]) => [k, (k === 'limit' || k === 'after') && v !== undefined && /^\d+$/.test(v) ? Number(v) : v]));
  const parsed = schema.safeParse(coerced);
  if (!parsed.success) throw validationError(parsed.error, 'query');
  return parsed.data;
}
