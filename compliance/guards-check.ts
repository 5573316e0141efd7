import { fail, pass, type Check } from './compliance-check.ts';

const repoRoot = new URL('..', import.meta.url).pathname;

/** The tests that prove the guards are on: residency and PII denial at execute, PII detection, redaction, the data classification. */
export const guardTests = [
  'tests/integration/policy-enforcement.test.ts',
  'tests/integration/data-residency.test.ts',
  'tests/unit/pii-detection.test.ts',
  'tests/unit/redaction.test.ts',
  'tests/unit/policy-fixtures.test.ts',
  'tests/unit/data-classification.test.ts',
];

/** "Residency checks enforced" and "PII guards active; redaction library applied": runs their tests. */
export const guardsCheck: Check = {
  id: 'guards',
  checklist: 'Residency checks enforced; PII guards active; redaction library applied',
  async run() {
    const proc = Bun.spawn(['bun', 'test', '--timeout=120000', ...guardTests], { cwd: repoRoot, stdout: 'pipe', stderr: 'pipe', env: { ...process.env, TEST_LOG_LEVEL: 'silent' } });
    const [code, out, err] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
    const text = `${out}\n${err}`;
    const passed = /(\d+) pass/.exec(text)?.[1] ?? '0';
    const failed = /(\d+) fail/.exec(text)?.[1] ?? '?';
    if (code !== 0) {
      const reasons = text.split('\n').filter((l) => /\(fail\)|error:|Expected|Received/.test(l));
      const shown = reasons.length > 0 ? reasons.slice(0, 20) : text.trim().split('\n').slice(-20);
      return fail(`guard tests failed (exit ${code}): ${passed} passed, ${failed} failed`, ...shown.map((l) => `  ${l.trim()}`));
    }
    return pass(`${guardTests.length} test files: ${passed} passed, 0 failed`);
  },
};
