import { existsSync, readFileSync } from 'node:fs';
import { evaluateCoverageGate, parseLcov } from '../tests/coverage-gate.ts';
import { fail, pass, type Check } from './compliance-check.ts';

/** Spec §8's gate over the last `bun run test` (coverage/lcov.info): overall ≥ 75%, each critical path ≥ 85%. */
export const coverageCheck: Check = {
  id: 'coverage',
  checklist: 'Coverage gate (spec §8)',
  async run(opts) {
    if (!existsSync(opts.lcovPath)) return fail(`${opts.lcovPath} is missing: run \`bun run test\` first`);
    const gate = evaluateCoverageGate(parseLcov(readFileSync(opts.lcovPath, 'utf8')));
    return gate.ok ? pass(...gate.lines) : fail(...gate.lines);
  },
};
