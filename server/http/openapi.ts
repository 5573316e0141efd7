import { z } from 'zod';
import { startExecutionInputSchema } from '@mc/shared/api';
import { manifestShape } from '@mc/shared/manifest';
import { mcVersion } from '../version.ts';

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
        get: { summary: 'List executions (newest first, cursor pagination)', parameters: [{ name: 'limit', in: 'query', schema: { type: 'integer' } }, { name: 'cursor', in: 'query', schema: { type: 'string' } }, { name: 'workflowId', in: 'query', schema: { type: 'string' } }, { name: 'status', in: 'query', schema: { type: 'string' } }], responses: { '200': ok('A page of executions'), '400': error } },
      },
      '/api/executions/{id}': { get: { summary: 'Get an execution with its steps', parameters: [idParam], responses: { '200': ok('The execution'), ...errors } } },
      '/api/executions/{id}/receipt': { get: { summary: 'The signed receipt; waits (bounded) while the execution is in flight', parameters: [idParam, { name: 'waitMs', in: 'query', schema: { type: 'integer', minimum: 0, maximum: 300000 } }], responses: { '200': ok('{receipt, bundle, digest, storedUri, verified}'), '504': error, ...errors } } },
      '/api/executions/{id}/receipt/verify': { post: { summary: 'Re-verify the stored receipt now', parameters: [idParam], responses: { '200': ok('{verified, reason}'), ...errors } } },
      '/api/executions/{id}/logs': { get: { summary: 'Redacted step logs', parameters: [idParam], responses: { '200': { description: 'NDJSON, one log line per line', content: { 'application/x-ndjson': { schema: { type: 'string' } } } }, ...errors } } },
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
