import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import type { Subprocess } from 'bun';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { setSpanExporter } from '@mc/server/observability/tracing';
import { killHard, spawnMc } from '../support/child-process.ts';
import { eventually, startTestStack, type TestStack } from '../support/test-stack.ts';

/**
 * W3C trace context from an HTTP request, through the job, into a worker in another process:
 * the worker's task span is a child of the request's span, its log lines and the receipt carry
 * the trace id. The worker exports its spans over OTLP/HTTP to a collector played by this test.
 */
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  status?: { code?: number };
  attributes?: { key: string; value: Record<string, unknown> }[];
}

let stack: TestStack;
let worker: Subprocess;
let collector: ReturnType<typeof Bun.serve>;
const collected: OtlpSpan[] = [];
const memory = new InMemorySpanExporter();
const dir = mkdtempSync(join(tmpdir(), 'mc-trace-'));
const serverLog = join(dir, 'server.log');
const workerLog = join(dir, 'worker.log');

beforeAll(async () => {
  collector = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(req) {
      const body = (await req.json()) as { resourceSpans?: { scopeSpans?: { spans?: OtlpSpan[] }[] }[] };
      for (const rs of body.resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) collected.push(...(ss.spans ?? []));
      return Response.json({});
    },
  });
  // Sample ratio 0: only a caller's sampled flag, or an error, keeps a trace.
  stack = await startTestStack({ MC_TRACE_SAMPLE_RATIO: '0', LOG_LEVEL: 'info', LOG_FILE: serverLog }, { worker: false });
  setSpanExporter(memory);
  worker = spawnMc('worker/main.ts', { ...stack.env, LOG_FILE: workerLog, OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collector.port}` });
});

afterAll(async () => {
  if (worker) await killHard(worker);
  setSpanExporter(null);
  await stack?.close();
  await collector?.stop(true);
  rmSync(dir, { recursive: true, force: true });
});

const hex = (bytes: number) => Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString('hex');
const logLines = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) : []);

async function publish(tasks: unknown[]): Promise<string> {
  const wf = await stack.trpc.workflows.create.mutate({ name: `tr-${crypto.randomUUID().slice(0, 8)}`, version: '1.0.0', tasks } as never);
  await stack.trpc.workflows.publish.mutate({ id: wf.id });
  return wf.id;
}

describe('a traceparent on the request', () => {
  it('continues into the worker: task span child of the request span, worker logs and receipt carry the trace id', async () => {
    const workflowId = await publish([{ id: 't1', uses: 'pkg:demo/echo@1.0.0', with: { x: 1 } }]);
    const traceId = hex(16);
    const callerSpanId = hex(8);
    const started = await stack.rest('POST', '/api/executions', { workflowId }, { traceparent: `00-${traceId}-${callerSpanId}-01` });
    expect(started.status).toBe(201);
    const executionId = started.body.id as string;
    const receipt = await stack.rest('GET', `/api/executions/${executionId}/receipt`);
    expect(receipt.status).toBe(200);
    expect(receipt.body.receipt.predicate.execution.traceId).toBe(traceId);

    // The server's request span: a child of the caller's span, in the caller's trace.
    const requestSpan = memory.getFinishedSpans().find((s: ReadableSpan) => s.spanContext().traceId === traceId && s.name === 'POST /api/executions');
    expect(requestSpan).toBeDefined();
    expect(requestSpan!.parentSpanContext?.spanId).toBe(callerSpanId);

    // The worker's task span (another process, exported over OTLP): a child of the request span.
    const taskSpan = await eventually(async () => collected.find((s) => s.traceId === traceId && s.name === 'task t1'), { what: 'the worker task span' });
    expect(taskSpan.parentSpanId).toBe(requestSpan!.spanContext().spanId);

    // Worker log lines for the task, with the spec §5 keys.
    const lines = await eventually(async () => {
      const mine = logLines(workerLog).filter((l) => l.trace_id === traceId);
      return mine.some((l) => l.msg === 'task finished') ? mine : null;
    }, { what: 'worker task log lines' });
    for (const msg of ['task started', 'task finished']) {
      const line = lines.find((l) => l.msg === msg);
      expect(line).toMatchObject({ trace_id: traceId, span_id: taskSpan.spanId, 'exec.id': executionId, 'workflow.id': workflowId, 'task.id': 't1' });
    }
    // And the server's one line for the request.
    const requestLine = logLines(serverLog).find((l) => l.msg === 'request' && l.trace_id === traceId && l.route === '/api/executions');
    expect(requestLine).toMatchObject({ method: 'POST', status: 201, span_id: requestSpan!.spanContext().spanId });
    expect(typeof requestLine!['actor.sub']).toBe('string');
    expect(typeof requestLine!.duration_ms).toBe('number');
  });

  it('keeps an unsampled trace when its task fails, and drops one that succeeds (ratio 0)', async () => {
    const failing = await publish([{ id: 'f1', uses: 'pkg:mc/fail@1.0.0', with: { message: 'boom' } }]);
    const fine = await publish([{ id: 'ok1', uses: 'pkg:demo/echo@1.0.0' }]);
    const failTrace = hex(16);
    const fineTrace = hex(16);
    const a = await stack.rest('POST', '/api/executions', { workflowId: failing }, { traceparent: `00-${failTrace}-${hex(8)}-00` });
    const b = await stack.rest('POST', '/api/executions', { workflowId: fine }, { traceparent: `00-${fineTrace}-${hex(8)}-00` });
    expect((await stack.rest('GET', `/api/executions/${a.body.id}/receipt`)).body.receipt.predicate.execution.status).toBe('failed');
    expect((await stack.rest('GET', `/api/executions/${b.body.id}/receipt`)).body.receipt.predicate.execution.status).toBe('succeeded');
    const failed = await eventually(async () => collected.find((s) => s.traceId === failTrace && s.name === 'task f1'), { what: 'the failed task span' });
    expect(failed.status?.code).toBe(2); // STATUS_CODE_ERROR
    // Both tasks' finish lines are written after their spans end; by then an export would have been sent.
    await eventually(async () => logLines(workerLog).some((l) => l.trace_id === fineTrace && l.msg === 'task finished'), { what: 'the fine task finishing' });
    await Bun.sleep(200);
    expect(collected.some((s) => s.traceId === fineTrace)).toBe(false);
    // The server's request spans of both were unsampled and did not error: neither kept (the per-process limitation).
    expect(memory.getFinishedSpans().some((s) => s.spanContext().traceId === fineTrace)).toBe(false);
  });
});
