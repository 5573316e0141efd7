import { existsSync, readFileSync } from 'node:fs';
import { auditEventSchema } from '@mc/shared/audit-event';
import { fail, pass, type Check } from './compliance-check.ts';

const schemaFile = new URL('../docs/audit/mc-events.v1.json', import.meta.url).pathname;

/** The schema's problems with one event: the JSON Schema (docs/audit/mc-events.v1.json, ajv) when present, else the zod schema. */
async function validator(): Promise<{ name: string; problems(e: unknown): string[] }> {
  if (existsSync(schemaFile)) {
    const { eventSchemaProblems } = await import('@mc/shared/event-schema');
    return { name: 'docs/audit/mc-events.v1.json (ajv)', problems: eventSchemaProblems };
  }
  return {
    name: 'shared/audit-event.ts (zod)',
    problems: (e) => {
      const r = auditEventSchema.safeParse(e);
      return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    },
  };
}

/** "Audit events emitted & validated": the sample execution's events (or `--events file.ndjson`) against mc.events.v1. */
export const eventsCheck: Check = {
  id: 'events',
  checklist: 'Audit events emitted & validated',
  async run(opts, shared) {
    let events: unknown[];
    let source: string;
    if (opts.eventsPath) {
      source = opts.eventsPath;
      events = readFileSync(opts.eventsPath, 'utf8')
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => {
          try {
            return JSON.parse(l) as unknown;
          } catch {
            return l;
          }
        });
    } else if (shared.sampleEvents) {
      source = 'the sample execution';
      events = shared.sampleEvents;
    } else {
      return fail('no events to validate: the sample execution did not run (see the receipts check)');
    }
    if (events.length === 0) return fail(`${source} produced no audit events`);
    const v = await validator();
    const bad = events.map((e, i) => ({ i, problems: v.problems(e) })).filter((r) => r.problems.length > 0);
    const types = [...new Set(events.map((e) => (e as { type?: unknown }).type))].join(', ');
    if (bad.length > 0) return fail(`${bad.length} of ${events.length} events from ${source} fail ${v.name}:`, ...bad.slice(0, 10).map((b) => `  event ${b.i}: ${b.problems.join('; ')}`));
    return pass(`${events.length} events from ${source} (${types}) validate against ${v.name}`);
  },
};
