import { z } from 'zod';
import { executionApprovalInputSchema, executionControlInputSchema, executionSignalInputSchema, executionStatusSchema, startExecutionInputSchema } from '@mc/shared/api';
import { scheduleCreateInputSchema } from '@mc/shared/schedules';
import { manifestShape } from '@mc/shared/manifest';
import { mcVersion } from '../version.ts';
import { breachInputSchema, releaseStartInputSchema } from '@mc/shared/releases';

/**
 * OpenAPI 3.1 description of the REST paths, with request bodies generated from the same zod
 * schemas the handlers validate with, so the document cannot drift from the code.
 */
export function openApiDocument() {
  const schema = (s: z.ZodType) => z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' });
  const error = {
    description: 'Refused; the body says why',
    content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
  };
  const ok = (description: string) => ({ description, content: { 'application/json': { schema: { type: 'object' } } } });
  const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } };
  const errors = { '400': error, '404': error, '409': error, '503': error };
  const body = (s: z.ZodType, required = false) => ({ required, content: { 'application/json': { schema: schema(s) } } });
  return {
    openapi: '3.1.0',
    info: { title: 'Maestro Conductor REST API', version: mcVersion, description: 'The same services as the tRPC API at /trpc.' },
    paths: {
      '/api/workflows': {
        post: { summary: 'Create a draft workflow from a manifest', requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/Manifest' } } } }, responses: { '201': ok('The draft'), ...errors } },
        get: { summary: 'List workflows (newest first, cursor pagination)', parameters: [{ name: 'limit', in: 'query', schema: { type: 'integer' } }, { name: 'cursor', in: 'query', schema: { type: 'string' } }, { name: 'name', in: 'query', schema: { type: 'string' } }, { name: 'status', in: 'query', schema: { enum: ['draft', 'published'] } }], responses: { '200': ok('A page of workflows'), '400': error } },
      },
      '/api/workflows/{id}': {
        get: { summary: 'Get a workflow', parameters: [idParam], responses: { '200': ok('The workflow'), ...errors } },
        put: { summary: 'Replace a draft’s manifest (published versions are immutable)', parameters: [idParam], requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/Manifest' } } } }, responses: { '200': ok('The draft'), ...errors } },
      },
      '/api/workflows/{id}/publish': { post: { summary: 'Publish a draft (idempotent)', parameters: [idParam], responses: { '200': ok('The published workflow'), ...errors } } },
      '/api/executions': {
        post: { summary: 'Start an execution of a published workflow', requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/StartExecution' } } } }, responses: { '201': ok('Started'), '200': ok('An earlier start with the same idempotencyKey'), '413': error, ...errors } },
        get: { summary: 'List executions (newest first, cursor pagination)', parameters: [{ name: 'limit', in: 'query', schema: { type: 'integer' } }, { name: 'cursor', in: 'query', schema: { type: 'string' } }, { name: 'workflowId', in: 'query', schema: { type: 'string' } }, { name: 'status', in: 'query', schema: { enum: executionStatusSchema.options } }], responses: { '200': ok('A page of executions'), '400': error } },
      },
      '/api/executions/{id}': { get: { summary: 'Get an execution with its steps', parameters: [idParam], responses: { '200': ok('The execution'), ...errors } } },
      '/api/executions/{id}/erase': { post: { summary: 'Cryptographically erase a finished execution’s inputs and outputs (admin); receipt and disclosure pack still verify', parameters: [idParam], requestBody: { required: false, content: { 'application/json': { schema: { type: 'object', properties: { reason: { type: 'string', maxLength: 500 } } } } } }, responses: { '200': ok('{executionId, erasedAt, erasedBy, alreadyErased}'), '403': error, ...errors } } },
      '/api/executions/{id}/receipt': { get: { summary: 'The signed receipt; waits (bounded) while the execution is in flight', parameters: [idParam, { name: 'waitMs', in: 'query', schema: { type: 'integer', minimum: 0, maximum: 300000 } }], responses: { '200': ok('{receipt, bundle, digest, storedUri, verified}'), '504': error, ...errors } } },
      '/api/executions/{id}/receipt/verify': { post: { summary: 'Re-verify the stored receipt now', parameters: [idParam], responses: { '200': ok('{verified, reason}'), ...errors } } },
      '/api/executions/{id}/cancel': { post: { summary: 'Cancel: running tasks get an abort signal and MC_CANCEL_GRACE_MS; ends cancelled, with a receipt', parameters: [idParam], requestBody: body(executionControlInputSchema.omit({ id: true })), responses: { '200': ok('The execution'), ...errors } } },
      '/api/executions/{id}/pause': { post: { summary: 'Pause: no new task starts; running ones finish', parameters: [idParam], requestBody: body(executionControlInputSchema.omit({ id: true })), responses: { '200': ok('The execution'), ...errors } } },
      '/api/executions/{id}/resume': { post: { summary: 'Resume a paused execution', parameters: [idParam], requestBody: body(executionControlInputSchema.omit({ id: true })), responses: { '200': ok('The execution'), ...errors } } },
      '/api/executions/{id}/signal': { post: { summary: 'Send a named event; waiting pkg:mc/wait-for-event steps with the same event and key resume', parameters: [idParam], requestBody: body(executionSignalInputSchema.omit({ id: true }), true), responses: { '200': ok('{signalId, event, key, woken}'), '413': error, ...errors } } },
      '/api/executions/{id}/approve': { post: { summary: 'Approve a waiting pkg:mc/approval step (never the run’s requester; the step’s role)', parameters: [idParam], requestBody: body(executionApprovalInputSchema.omit({ id: true })), responses: { '200': ok('{approvals, required, status}'), '403': error, ...errors } } },
      '/api/executions/{id}/reject': { post: { summary: 'Reject a waiting pkg:mc/approval step: the run ends rejected, with a receipt', parameters: [idParam], requestBody: body(executionApprovalInputSchema.omit({ id: true })), responses: { '200': ok('{approvals, required, status}'), '403': error, ...errors } } },
      '/api/executions/{id}/rerun': { post: { summary: 'Rerun a failed, cancelled or rejected execution from where it stopped, reusing its succeeded steps', parameters: [idParam], responses: { '201': ok('The new execution (rerunOf = id)'), ...errors } } },
      '/api/executions/{id}/transitions': { get: { summary: 'Recorded control transitions (queued, admitted, paused, resumed, cancelled, rejected, signals, approvals, finished)', parameters: [idParam], responses: { '200': ok('Transitions, oldest first'), ...errors } } },
      '/api/schedules': {
        post: { summary: 'Schedule runs of a published workflow (cron with time zone, or every N ms); they run as the caller', requestBody: body(scheduleCreateInputSchema, true), responses: { '201': ok('The schedule'), ...errors } },
        get: { summary: 'List schedules (newest first)', parameters: [{ name: 'limit', in: 'query', schema: { type: 'integer' } }, { name: 'cursor', in: 'query', schema: { type: 'string' } }, { name: 'workflowId', in: 'query', schema: { type: 'string' } }], responses: { '200': ok('A page of schedules'), '400': error } },
      },
      '/api/schedules/{id}': {
        get: { summary: 'A schedule, with when it fires next', parameters: [idParam], responses: { '200': ok('The schedule'), ...errors } },
        delete: { summary: 'Delete a schedule (its runs stay)', parameters: [idParam], responses: { '200': ok('The schedule'), ...errors } },
      },
      '/api/schedules/{id}/pause': { post: { summary: 'Pause a schedule', parameters: [idParam], responses: { '200': ok('The schedule'), ...errors } } },
      '/api/schedules/{id}/resume': { post: { summary: 'Resume a paused schedule', parameters: [idParam], responses: { '200': ok('The schedule'), ...errors } } },
      '/api/executions/{id}/logs': { get: { summary: 'Redacted step logs', parameters: [idParam], responses: { '200': { description: 'NDJSON, one log line per line', content: { 'application/x-ndjson': { schema: { type: 'string' } } } }, ...errors } } },
      '/api/events': {
        get: {
          summary: "The caller's tenant's mc.events.v1 audit events, oldest first (docs/audit/mc-events.v1.json)",
          parameters: [
            { name: 'after', in: 'query', schema: { type: 'integer', minimum: 0 }, description: 'Events after this seq (the previous page\'s nextAfter)' },
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 500 } },
            { name: 'type', in: 'query', schema: { type: 'string' } },
          ],
          responses: { '200': ok('{items: [{seq, id, ts, type, actor, subject, data, hash}], nextAfter}'), ...errors },
        },
      },
      '/api/releases': {
        get: { summary: 'Canary releases, newest first (docs/ops/ROLLOUT_PLAYBOOK.md)', parameters: [{ name: 'workflowName', in: 'query', schema: { type: 'string' } }, { name: 'status', in: 'query', schema: { enum: ['active', 'completed', 'rolled_back'] } }, { name: 'limit', in: 'query', schema: { type: 'integer' } }], responses: { '200': ok('Releases'), ...errors } },
        post: { summary: 'Enter a published version as the canary of its workflow (starts a release)', requestBody: { required: true, content: { 'application/json': { schema: schema(releaseStartInputSchema) } } }, responses: { '201': ok('{outcome, release}'), '200': ok('Already the canary, or stable'), ...errors } },
      },
      '/api/releases/{id}': { get: { summary: 'A release with its timeline', parameters: [idParam], responses: { '200': ok('The release'), ...errors } } },
      '/api/releases/{id}/report': { get: { summary: 'The canary report: windows, metrics, decisions, who did what (JSON evidence)', parameters: [idParam], responses: { '200': ok('mc.release.report.v1'), ...errors } } },
      '/api/releases/{id}/promote': { post: { summary: 'Promote one stage now (operator)', parameters: [idParam], requestBody: { required: false, content: { 'application/json': { schema: { type: 'object', properties: { expectedVersion: { type: 'integer' }, reason: { type: 'string' } } } } } }, responses: { '200': ok('The release'), ...errors } } },
      '/api/releases/{id}/rollback': { post: { summary: 'Roll back: weight 0, mc.release.rollback (operator)', parameters: [idParam], requestBody: { required: false, content: { 'application/json': { schema: { type: 'object', properties: { expectedVersion: { type: 'integer' }, reason: { type: 'string' } } } } } }, responses: { '200': ok('The release'), ...errors } } },
      '/api/breach': { post: { summary: 'Breach simulator (spec §13; also POST /breach): a metric over its threshold rolls back the active canaries (admin)', requestBody: { required: true, content: { 'application/json': { schema: schema(breachInputSchema) } } }, responses: { '200': ok('{breach, rolledBack}'), ...errors } } },
      '/api/error-budget': { get: { summary: 'The tenant’s error budget, burn, freeze and alerts (docs/ops/ERROR_BUDGET_POLICY.md)', responses: { '200': ok('The error budget'), ...errors } } },
      '/api/incidents': { get: { summary: 'Sev1 incidents (docs/ops/INCIDENT_PLAYBOOK.md)', responses: { '200': ok('Incidents'), ...errors } } },
      '/api/keys': { get: { summary: 'Receipt-signing public keys (PEM) with key ids', responses: { '200': ok('{keys: [{keyId, algorithm, publicKeyPem}]}') } } },
      '/healthz': { get: { summary: 'Liveness', responses: { '200': ok('Up') } } },
      '/readyz': { get: { summary: 'Readiness: database, Redis, object store', responses: { '200': ok('Ready'), '503': ok('Not ready, with the failing checks') } } },
    },
    components: {
      schemas: {
        Manifest: schema(manifestShape),
        StartExecution: schema(startExecutionInputSchema),
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message'],
              properties: {
                code: { type: 'string' },
                message: { type: 'string' },
                issues: { type: 'array', items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } } },
                details: { type: 'object' },
              },
            },
          },
        },
      },
    },
  };
}
