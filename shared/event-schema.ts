import { readFileSync } from 'node:fs';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

/**
 * The spec's event schema (§4, `mc.events.v1`) as the one source of truth: the JSON Schema file
 * `docs/audit/mc-events.v1.json` is compiled once with ajv, and every event is checked against it
 * before it is written (server/audit/audit-writer.ts). More event types only by a new, versioned file.
 */
export const eventSchemaPath = new URL('../docs/audit/mc-events.v1.json', import.meta.url);
export const eventSchemaDocument: Record<string, unknown> = JSON.parse(readFileSync(eventSchemaPath, 'utf8'));

const ajv = new Ajv2020({ allErrors: true, strict: true });
addFormats(ajv);
const validate = ajv.compile(eventSchemaDocument);

export class EventSchemaError extends Error {
  constructor(readonly problems: string[]) {
    super(`event does not match mc.events.v1: ${problems.join('; ')}`);
  }
}

/** The problems ajv finds in `event` against mc.events.v1 (empty when it validates). */
export function eventSchemaProblems(event: unknown): string[] {
  if (validate(event)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`);
}

export function assertValidEvent(event: unknown): void {
  const problems = eventSchemaProblems(event);
  if (problems.length > 0) throw new EventSchemaError(problems);
}
