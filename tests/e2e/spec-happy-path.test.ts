import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import type { Subprocess } from 'bun';
import { spawnMc } from '../support/child-process.ts';
import { freePort } from '../support/free-port.ts';
import { eventually, startTestStack, type TestStack } from '../support/test-stack.ts';

let stack: TestStack;
let api: string;
const children: Subprocess[] = [];
beforeAll(async () => {
  stack = await startTestStack({}, { worker: false });
  const port = await freePort();
  api = `http://127.0.0.1:${port}`;
  // The spec's script sends no credentials: this server lets anonymous loopback callers act as admin.
  children.push(spawnMc('server/main.ts', { ...stack.env, PORT: String(port), MC_ANONYMOUS_ROLE: 'admin' }), spawnMc('worker/main.ts', stack.env));
  await eventually(async () => (await fetch(`${api}/readyz`)).ok || null, { what: 'server to be ready', timeoutMs: 30_000 });
});
afterAll(async () => {
  for (const c of children) {
    c.kill('SIGTERM');
    await c.exited;
  }
  await stack.close();
});

describe('spec §17 e2e script, run unchanged against real server and worker processes', () => {
  it('prints status 200', async () => {
    const script = Bun.spawn(['bun', 'tests/e2e/happy-path.ts'], { env: { ...process.env, API: api }, stdout: 'pipe', stderr: 'pipe' });
    const [out, err, code] = await Promise.all([new Response(script.stdout).text(), new Response(script.stderr).text(), script.exited]);
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(out.trim()).toBe('status 200');
  }, 60_000);

  it('serves the landing page, health, readiness and the OpenAPI document', async () => {
    expect((await fetch(`${api}/`)).status).toBe(200);
    expect(await (await fetch(`${api}/healthz`)).json()).toEqual({ status: 'ok' });
    expect(await (await fetch(`${api}/readyz`)).json()).toMatchObject({ status: 'ready', checks: { database: 'ok', redis: 'ok', objectStore: 'ok' } });
    const doc = await (await fetch(`${api}/api/openapi.json`)).json();
    expect(Object.keys(doc.paths)).toContain('/api/executions/{id}/receipt');
    expect(doc.components.schemas.Manifest.properties.tasks).toBeDefined();
  });

  it('exits cleanly on SIGTERM', async () => {
    const worker = children[1]!;
    worker.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
  });
});
