import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import type { Subprocess } from 'bun';
import { killHard, spawnMc } from '../support/child-process.ts';
import { freePort } from '../support/private-redis.ts';
import { eventually, startTestStack, type TestStack } from '../support/test-stack.ts';

/**
 * `/metrics` of the server and of a worker process pass `promtool check metrics` (Debian package
 * `prometheus`; ./dev/run test installs it). One finding is expected and allowed: spec §5 names
 * the histogram `mc_publish_to_start_ms`, and promtool's linter dislikes the abbreviated unit.
 * Any other finding, or a parse error, fails.
 */
const allowedFindings = ['mc_publish_to_start_ms metric names should not contain abbreviated units'];

async function promtool(text: string): Promise<{ code: number; findings: string[] }> {
  const proc = Bun.spawn(['promtool', 'check', 'metrics'], { stdin: new TextEncoder().encode(text), stdout: 'pipe', stderr: 'pipe' });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, findings: `${out}\n${err}`.split('\n').map((l) => l.trim()).filter(Boolean) };
}

function expectPasses(result: { code: number; findings: string[] }) {
  // 0: clean; 3: lint findings only (1 would be a parse error).
  expect([0, 3]).toContain(result.code);
  expect(result.findings.filter((f) => !allowedFindings.includes(f))).toEqual([]);
}

let stack: TestStack;
let worker: Subprocess;
let workerPort: number;
beforeAll(async () => {
  stack = await startTestStack({}, { worker: false });
  workerPort = await freePort();
  worker = spawnMc('worker/main.ts', { ...stack.env, WORKER_METRICS_PORT: String(workerPort) });
});
afterAll(async () => {
  if (worker) await killHard(worker);
  await stack?.close();
});

describe('/metrics', () => {
  it('is valid for promtool on the server and on the worker, with every series of TELEMETRY.md', async () => {
    expect(Bun.which('promtool')).not.toBeNull();
    const wf = await stack.trpc.workflows.create.mutate({ name: `m-${crypto.randomUUID().slice(0, 8)}`, version: '1.0.0', tasks: [{ id: 't1', uses: 'pkg:demo/echo@1.0.0' }] });
    await stack.trpc.workflows.publish.mutate({ id: wf.id });
    const started = await stack.rest('POST', '/api/executions', { workflowId: wf.id });
    expect(started.status).toBe(201);
    expect((await stack.rest('GET', `/api/executions/${started.body.id}/receipt`)).status).toBe(200);
    expect((await stack.rest('POST', '/api/executions', { workflowId: wf.id, region: 'eu' })).status).toBe(403);

    const server = await (await stack.app.handle(new Request('http://mc.test/metrics'))).text();
    expectPasses(await promtool(server));
    for (const series of [
      // Counters of this process count every test file's requests (bun runs them in one process): present, not exact.
      'http_requests_total{method="POST",route="/api/executions",status="201"} ',
      'mc_policy_denies_total{pack="residency",reason="residency_mismatch"} ',
      'mc_pdp_latency_seconds_bucket{le="+Inf",pack="access",backend="embedded"}',
      'mc_queue_jobs{queue="mc-tasks-default",state="waiting"}',
      'mc_queue_jobs{queue="mc-receipts",state="completed"}',
      'mc_event_outbox_pending ',
      'mc_event_outbox_oldest_age_seconds ',
      '# TYPE mc_publish_to_start_ms histogram',
      '# TYPE mc_receipts_signed_total counter',
      '# TYPE mc_receipt_verification_failures_total counter',
      '# TYPE mc_task_duration_seconds histogram',
    ]) expect(server).toContain(series);

    // The worker's own port: its task, receipt and relay series, and /healthz.
    const base = `http://127.0.0.1:${workerPort}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const text = await eventually(async () => {
      const t = await (await fetch(`${base}/metrics`)).text();
      return /mc_events_published_total [1-9]/.test(t) ? t : null;
    }, { what: "the worker's relay publishing events" });
    expectPasses(await promtool(text));
    for (const series of [
      'mc_task_duration_seconds_count{package="pkg:demo/echo@1.0.0",outcome="succeeded"} 1',
      'mc_receipts_signed_total{status="succeeded"} 1',
      'mc_publish_to_start_ms_count 1',
      'mc_queue_jobs{queue="mc-tasks-default",state="active"}',
    ]) expect(text).toContain(series);
  });
});
