/**
 * `bun run compliance` — spec §18's merge gate (docs/compliance/CHECKLIST.md). Runs every check,
 * prints one line per check with its evidence, and exits 1 when any fails.
 *
 *   --only a,b          run only these checks (sbom, receipts, events, guards, secrets, vulnerabilities, docs, coverage)
 *   --root DIR          tree scanned for secrets and docs (default: this repository)
 *   --sbom FILE         the SBOM to check (default: dist/sbom.json, written by `bun run sbom`)
 *   --lcov FILE         coverage to gate (default: coverage/lcov.info, written by `bun run test`)
 *   --events FILE       audit events (NDJSON) to validate instead of the sample execution's
 *   --offline           use the committed advisory snapshot without trying `bun audit`
 *
 * The receipts check needs the machine's Postgres and Redis (as the tests do).
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Check, ComplianceOptions, SharedEvidence } from './compliance-check.ts';
import { coverageCheck } from './coverage-check.ts';
import { docsCheck } from './docs-check.ts';
import { eventsCheck } from './events-check.ts';
import { guardsCheck } from './guards-check.ts';
import { receiptsCheck } from './sample-execution.ts';
import { sbomCheck } from './sbom-check.ts';
import { secretsCheck } from './secrets-check.ts';
import { vulnerabilityCheck } from './vulnerability-check.ts';

const repoRoot = new URL('..', import.meta.url).pathname;
// Order matters: `receipts` produces the events that `events` validates.
export const checks: Check[] = [sbomCheck, receiptsCheck, eventsCheck, guardsCheck, secretsCheck, vulnerabilityCheck, docsCheck, coverageCheck];

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    root: { type: 'string' },
    sbom: { type: 'string' },
    lcov: { type: 'string' },
    events: { type: 'string' },
    offline: { type: 'boolean', default: false },
  },
  strict: true,
});

const opts: ComplianceOptions = {
  root: resolve(values.root ?? repoRoot),
  sbomPath: resolve(values.sbom ?? `${repoRoot}dist/sbom.json`),
  lockfilePath: `${repoRoot}bun.lock`,
  lcovPath: resolve(values.lcov ?? `${repoRoot}coverage/lcov.info`),
  eventsPath: values.events ? resolve(values.events) : null,
  advisoriesPath: `${repoRoot}compliance/advisories.json`,
  offline: values.offline,
};
const only = values.only ? new Set(values.only.split(',').map((s) => s.trim())) : null;
const unknown = only ? [...only].filter((id) => !checks.some((c) => c.id === id)) : [];
if (unknown.length > 0) {
  console.error(`unknown check(s): ${unknown.join(', ')}; known: ${checks.map((c) => c.id).join(', ')}`);
  process.exit(2);
}
// The events check validates the sample's events unless given a file: run the sample for it.
const selected = checks.filter((c) => !only || only.has(c.id) || (c.id === 'receipts' && only.has('events') && !opts.eventsPath));

const shared: SharedEvidence = {};
let failures = 0;
for (const check of selected) {
  const started = performance.now();
  let ok: boolean;
  let details: string[];
  try {
    ({ ok, details } = await check.run(opts, shared));
  } catch (e) {
    ok = false;
    details = [`the check itself failed: ${e instanceof Error ? e.message : String(e)}`];
  }
  if (!ok) failures++;
  const ms = Math.round(performance.now() - started);
  console.log(`${ok ? 'PASS' : 'FAIL'} ${check.id} — ${check.checklist} (${ms} ms)`);
  for (const d of details) console.log(`     ${d}`);
}
console.log(`compliance: ${selected.length - failures} passed, ${failures} failed`);
process.exit(failures > 0 ? 1 : 0);
