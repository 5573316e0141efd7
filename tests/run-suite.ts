/**
 * The whole test suite, as `bun run test` (and so `./dev/run test` and CI) runs it: every test
 * file under tests/, with coverage, then the coverage gate of spec §8, then one plain summary
 * line (`N passed, N failed`) that CI can read.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { evaluateCoverageGate, parseLcov } from './coverage-gate.ts';

const root = new URL('..', import.meta.url).pathname;
mkdirSync(`${root}test-results`, { recursive: true });
const extra = process.argv.slice(2);
const args = [
  'test',
  '--coverage',
  '--timeout=120000',
  '--coverage-reporter=lcov',
  '--coverage-reporter=text',
  '--reporter=junit',
  '--reporter-outfile=test-results/junit.xml',
  ...(extra.length > 0 ? extra : ['tests/']),
];
const proc = Bun.spawn(['bun', ...args], { cwd: root, stdout: 'inherit', stderr: 'inherit', env: process.env });
const code = await proc.exited;

const junit = readFileSync(`${root}test-results/junit.xml`, 'utf8');
const suites = /<testsuites[^>]*\btests="(\d+)"[^>]*\bfailures="(\d+)"(?:[^>]*\bskipped="(\d+)")?/.exec(junit);
const total = Number(suites?.[1] ?? 0);
const failed = Number(suites?.[2] ?? 0);
const skipped = Number(suites?.[3] ?? 0);

let gateOk = true;
if (extra.length === 0) {
  const gate = evaluateCoverageGate(parseLcov(readFileSync(`${root}coverage/lcov.info`, 'utf8')));
  for (const line of gate.lines) console.log(line);
  gateOk = gate.ok;
}

console.log(`${total - failed - skipped} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`);
if (code !== 0 && failed === 0) console.error(`bun test exited with ${code} (see its output above)`);
process.exit(code !== 0 || failed > 0 || !gateOk || total === 0 ? 1 : 0);
