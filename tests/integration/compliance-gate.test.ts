import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * `bun run compliance` (compliance/run-compliance.ts): passes on this repository and fails on
 * each planted fault. Faults are injected through its options into a temp directory; nothing
 * secret-shaped is committed — the planted token is assembled at run time.
 */
const root = new URL('../..', import.meta.url).pathname;
let tmp: string;

async function compliance(...args: string[]): Promise<{ code: number; out: string }> {
  const proc = Bun.spawn(['bun', 'compliance/run-compliance.ts', ...args], { cwd: root, stdout: 'pipe', stderr: 'pipe', env: { ...process.env, TEST_LOG_LEVEL: 'silent' } });
  const [code, out, err] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  return { code, out: `${out}${err}` };
}

/** An lcov file covering the critical paths at the given percentage. */
function lcov(pct: number, criticalPct = pct): string {
  const rec = (file: string, p: number) => `SF:${file}\nLF:100\nLH:${p}\nend_of_record\n`;
  return [rec('server/app.ts', pct), rec('shared/receipt-signing.ts', criticalPct), rec('server/policy/pdp.ts', criticalPct), rec('server/executions/step-service.ts', criticalPct), rec('shared/redaction.ts', criticalPct)].join('');
}

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'mc-compliance-'));
  writeFileSync(join(tmp, 'good.lcov'), lcov(90));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('bun run compliance', () => {
  it('passes on the repository', async () => {
    expect(Bun.spawnSync(['bun', 'run', 'sbom'], { cwd: root }).exitCode).toBe(0);
    const { out } = await compliance('--lcov', join(tmp, 'good.lcov'));
    const lines = out.split('\n');
    const failed = lines.filter((l) => l.startsWith('FAIL ')).map((l) => l.split(' ')[1]);
    // The whole report on failure, so a failing check says why in CI's log.
    expect({ failed, report: failed.length > 0 ? out : '' }).toEqual({ failed: [], report: '' });
    for (const id of ['sbom', 'receipts', 'events', 'guards', 'secrets', 'vulnerabilities', 'coverage']) expect(lines.some((l) => l.startsWith(`PASS ${id} `))).toBe(true);
  }, 240_000);

  it('fails on a planted secret', async () => {
    const dir = join(tmp, 'tree');
    Bun.spawnSync(['mkdir', '-p', join(dir, 'src')]);
    writeFileSync(join(dir, 'src/clean.ts'), 'export const greeting = "hello";\n');
    expect((await compliance('--only', 'secrets', '--root', dir)).code).toBe(0);
    // A GitHub token shape, assembled here so no secret-looking literal is ever committed.
    const token = ['gh', 'p_', 'wWPw5k4aXcaT4fNP0UcnZwJUVFk6LO0pINUx'].join('');
    writeFileSync(join(dir, 'src/leak.ts'), `export const token = "${token}";\n`);
    const { code, out } = await compliance('--only', 'secrets', '--root', dir);
    expect(code).toBe(1);
    expect(out).toContain('FAIL secrets');
    expect(out).toContain('src/leak.ts');
    expect(out).not.toContain(token);
  });

  it('fails on a missing or invalid SBOM', async () => {
    const missing = await compliance('--only', 'sbom', '--sbom', join(tmp, 'nope.json'));
    expect(missing.code).toBe(1);
    expect(missing.out).toContain('bun run sbom');
    writeFileSync(join(tmp, 'bad-sbom.json'), JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.6', version: 'one' }));
    const invalid = await compliance('--only', 'sbom', '--sbom', join(tmp, 'bad-sbom.json'));
    expect(invalid.code).toBe(1);
    expect(invalid.out).toContain('not valid CycloneDX');
  });

  it('fails on an invalid audit event', async () => {
    const good = { id: 'e1', ts: new Date().toISOString(), type: 'mc.execution.started', actor: { sub: 'a' }, subject: { executionId: 'x' }, data: {} };
    writeFileSync(join(tmp, 'good.ndjson'), `${JSON.stringify(good)}\n`);
    expect((await compliance('--only', 'events', '--events', join(tmp, 'good.ndjson'))).code).toBe(0);
    writeFileSync(join(tmp, 'bad.ndjson'), `${JSON.stringify(good)}\n${JSON.stringify({ ...good, type: 'mc.made.up' })}\n`);
    const { code, out } = await compliance('--only', 'events', '--events', join(tmp, 'bad.ndjson'));
    expect(code).toBe(1);
    expect(out).toContain('1 of 2 events');
  });

  it('fails when coverage is below the gate, overall or on a critical path', async () => {
    writeFileSync(join(tmp, 'low.lcov'), lcov(60));
    const low = await compliance('--only', 'coverage', '--lcov', join(tmp, 'low.lcov'));
    expect(low.code).toBe(1);
    expect(low.out).toContain('< 75%');
    writeFileSync(join(tmp, 'critical.lcov'), lcov(95, 80));
    const critical = await compliance('--only', 'coverage', '--lcov', join(tmp, 'critical.lcov'));
    expect(critical.code).toBe(1);
    expect(critical.out).toContain('on critical path');
  });

  it('budgets vulnerabilities from the lockfile against the committed advisory snapshot when offline', async () => {
    const { code, out } = await compliance('--only', 'vulnerabilities', '--offline');
    expect(code).toBe(0);
    expect(out).toContain('advisory snapshot');
  });
});
