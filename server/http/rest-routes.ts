import { Elysia } from 'elysia';
import { auditListInputSchema, executionListInputSchema, workflowListInputSchema } from '@mc/shared/api';
import { AppError, validationError } from '@mc/shared/errors';
import { traceContextFrom } from '@mc/shared/trace-context';
import { resolveActor } from '../auth/actor.ts';
import type { Deps } from '../deps.ts';
import * as audit from '../audit/service.ts';
import * as executions from '../executions/service.ts';
import * as receipts from '../receipts/service.ts';
import * as workflows from '../workflows/service.ts';

/**
 * The spec's REST paths. Each handler is one service call — the same calls the tRPC procedures
 * make — so the two APIs cannot drift apart.
 */
export function restRoutes(deps: Deps) {
  return new Elysia({ name: 'mc-rest', prefix: '/api' })
    .derive(({ request, server }) => ({
      actor: resolveActor(request, server?.requestIP(request)?.address),
      trace: traceContextFrom(request.headers.get('traceparent')),
    }))
    .post('/workflows', async ({ body, actor, set }) => {
      set.status = 201;
      return workflows.createWorkflow(deps, body, actor);
    })
    .get('/workflows', ({ query }) => workflows.listWorkflows(deps, parseQuery(workflowListInputSchema, query)))
    .get('/workflows/:id', ({ params }) => workflows.getWorkflow(deps, workflows.parseId(params.id, 'workflow id')))
    .put('/workflows/:id', ({ params, body }) => workflows.updateDraft(deps, workflows.parseId(params.id, 'workflow id'), body))
    .post('/workflows/:id/publish', ({ params, actor }) => workflows.publishWorkflow(deps, workflows.parseId(params.id, 'workflow id'), actor))
    .post('/workflows/:id/plan', ({ params, body, actor }) =>
      workflows.planWorkflow(deps, { ...(body && typeof body === 'object' ? body : {}), id: workflows.parseId(params.id, 'workflow id') }, actor),
    )
    .post('/executions', async ({ body, actor, trace, set }) => {
      const { execution, created } = await executions.startExecution(deps, body, actor, { traceId: trace.traceId, traceparent: trace.traceparent });
      set.status = created ? 201 : 200;
      set.headers.location = `/api/executions/${execution.id}`;
      return execution;
    })
    .get('/executions', ({ query }) => executions.listExecutions(deps, parseQuery(executionListInputSchema, query)))
    .get('/executions/:id', ({ params }) => executions.getExecution(deps, workflows.parseId(params.id, 'execution id')))
    .get('/executions/:id/receipt', ({ params, query }) => {
      const waitMs = query.waitMs === undefined ? undefined : Number(query.waitMs);
      if (waitMs !== undefined && (!Number.isInteger(waitMs) || waitMs < 0 || waitMs > 300_000)) {
        throw new AppError('VALIDATION', 'waitMs must be an integer from 0 to 300000', { issues: [{ path: 'waitMs', message: 'out of range' }] });
      }
      return receipts.getReceipt(deps, workflows.parseId(params.id, 'execution id'), waitMs);
    })
    .post('/executions/:id/receipt/verify', ({ params }) => receipts.verifyReceipt(deps, workflows.parseId(params.id, 'execution id')))
    .get('/executions/:id/logs', async ({ params, set }) => {
      const lines = await executions.executionLogs(deps, workflows.parseId(params.id, 'execution id'));
      set.headers['content-type'] = 'application/x-ndjson';
      return lines.map((l) => JSON.stringify(l)).join('\n') + (lines.length > 0 ? '\n' : '');
    })
    .get('/keys', () => receipts.publicKeys(deps))
    .get('/audit/events', ({ query }) => audit.listAuditEvents(deps, parseQuery(auditListInputSchema, query)))
    .post('/audit/verify', () => audit.verifyAudit(deps));
}

/** Query strings arrive as text: numbers are coerced before the shared schema validates them. */
function parseQuery<T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: import('zod').ZodError } }, query: Record<string, string | undefined>): T {
  const coerced = Object.fromEntries(Object.entries(query).map(([k, v]) => [k, (k === 'limit' || k === 'after') && v !== undefined && /^\d+$/.test(v) ? Number(v) : v]));
  const parsed = schema.safeParse(coerced);
  if (!parsed.success) throw validationError(parsed.error, 'query');
  return parsed.data;
}
