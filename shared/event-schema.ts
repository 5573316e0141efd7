import { readFileSync } from 'node:fs';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

/**
 * The spec's event schema (§4, `mc.events.v1`) as the one source of truth: the JSON Schema files
 * are compiled once with ajv, and every event is checked before it is written
 * (server/audit/audit-writer.ts). The five spec types are checked against
 * `docs/audit/mc-events.v1.json` itself; the types added later, by the versioned change
 * `docs/audit/mc-events.v2.json` (same shape, more types), against that file.
 */
export const eventSchemaPath = new URL('../docs/audit/mc-events.v1.json', import.meta.url);
export const eventSchemaV2Path = new URL('../docs/audit/mc-events.v2.json', import.meta.url);
export const eventSchemaDocument: Record<string, unknown> = JSON.parse(readFileSync(eventSchemaPath, 'utf8'));
export const eventSchemaV2Document: Record<string, unknown> = JSON.parse(readFileSync(eventSchemaV2Path, 'utf8'));

const ajv = new Ajv2020({ allErrors: true, strict: true });
addFormats(ajv);
const validateV1 = ajv.compile(eventSchemaDocument);
const validateV2 = ajv.compile(eventSchemaV2Document);
const v1Types = new Set(((eventSchemaDocument.properties as { type: { enum: string[] } }).type.enum));

/** The schema an event is held to: v1 for the spec's five types, v2 for the rest. */
export function eventSchemaIdFor(event: unknown): 'mc.events.v1' | 'mc.events.v2' {
  const type = (event as { type?: unknown } | null)?.type;
  return typeof type === 'string' && !v1Types.has(type) ? 'mc.events.v2' : 'mc.events.v1';
}

export class EventSchemaError extends Error {
  constructor(readonly problems: string[], schemaId = 'mc.events.v1') {
    super(`event does not match ${schemaId}: ${problems.join('; ')}`);
  }
}

/** The problems ajv finds in `event` against its schema (empty when it validates). */
export function eventSchemaProblems(event: unknown): string[] {
  const validate = eventSchemaIdFor(event) === 'mc.events.v1' ? validateV1 : validateV2;
  if (validate(event)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`);
}

export function assertValidEvent(event: unknown): void {
  const problems = eventSchemaProblems(event);
  if (problems.length > 0) throw new EventSchemaError(problems, eventSchemaIdFor(event));
}
