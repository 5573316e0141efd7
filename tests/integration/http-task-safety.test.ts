import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { openTaskResult } from '@mc/server/payloads/payload-boundary';
import { eventually, startTestStack, type TestStack } from '../support/test-stack.ts';

/**
 * pkg:mc/http against the real stack. Only loopback is ever contacted: every refused target below
 * is refused by the outbound guard before a connection (or DNS query) is attempted, and the sink
 * records every request it gets, so "refused" also means "the sink saw nothing after the redirect".
 */
interface RedirectingSink {
  host: string;
  url: string;
  calls: string[];
  stop(): Promise<void>;
}

function startRedirectingSink(): RedirectingSink {
  const calls: string[] = [];
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    fetch(req) {
      const url = new URL(req.url);
      calls.push(url.pathname);
      if (url.pathname === '/to-metadata') return new Response(null, { status: 302, headers: { location: 'http://169.254.169.254/' } });
      if (url.pathname === '/to-private') return new Response(null, { status: 301, headers: { location: 'http://10.0.0.1/admin' } });
      if (url.pathname === '/to-local') return new Response(null, { status: 302, headers: { location: '/landing' } });
      return Response.json({ ok: true, path: url.pathname, host: req.headers.get('host') });
    },
  });
  const host = `127.0.0.1:${server.port}`;
  return { host, url: `http://${host}`, calls, stop: () => server.stop(true) };
}

let stack: TestStack;
let sink: RedirectingSink;
beforeAll(async () => {
  sink = startRedirectingSink();
  stack = await startTestStack({ MC_HTTP_ALLOWED_HOSTS: sink.host });
});
afterAll(async () => {
  await stack.close();
  await sink.stop();
});

async function runOne(url: string) {
  const wf = await stack.trpc.workflows.create.mutate({
    name: `http-safety-${Math.random().toString(36).slice(2, 8)}`,
    version: '1.0.0',
    // Retries are available: a refusal must not use them.
    tasks: [{ id: 'call', uses: 'pkg:mc/http@1.0.0', retries: 3, with: { url, method: 'GET' } }],
  });
  await stack.trpc.workflows.publish.mutate({ id: wf.id });
  const exec = await stack.trpc.executions.start.mutate({ workflowId: wf.id });
  const done = await eventually(
    async () => {
      const e = await stack.trpc.executions.get.query({ id: exec.id });
      return ['succeeded', 'failed'].includes(e.status) ? e : null;
    },
    { what: `execution ${exec.id} to finish` },
  );
  const logs = await stack.trpc.executions.logs.query({ id: exec.id });
  return { exec: done, step: done.steps[0]!, logs };
}

describe('pkg:mc/http outbound safety', () => {
  it('refuses the cloud metadata endpoint at once, without retrying or connecting', async () => {
    const { exec, step, logs } = await runOne('http://169.254.169.254/latest/meta-data');
    expect(exec.status).toBe('failed');
    expect(step.status).toBe('failed');
    expect(step.attempts).toBe(1);
    expect(step.error).toContain('169.254.169.254 is link-local');
    // http.ts logs a line per response received; a refusal happens before any request.
    expect(logs.some((l) => l.message.includes(' -> '))).toBe(false);
  });

  it('refuses a private address', async () => {
    const { step } = await runOne('http://10.0.0.1/');
    expect(step.status).toBe('failed');
    expect(step.attempts).toBe(1);
    expect(step.error).toContain('10.0.0.1 is private (10.0.0.0/8)');
  });

  it('refuses a redirect from an allow-listed sink to the metadata endpoint, naming the target', async () => {
    const before = sink.calls.length;
    const { step, logs } = await runOne(`${sink.url}/to-metadata`);
    expect(step.status).toBe('failed');
    expect(step.attempts).toBe(1);
    expect(step.error).toContain('redirect to http://169.254.169.254/ refused');
    expect(sink.calls.slice(before)).toEqual(['/to-metadata']);
    expect(logs.filter((l) => l.message.includes(' -> ')).map((l) => l.message)).toEqual([`GET ${sink.url}/to-metadata -> 302`]);
  });

  it('refuses a redirect to a private address', async () => {
    const { step } = await runOne(`${sink.url}/to-private`);
    expect(step.error).toContain('redirect to http://10.0.0.1/admin refused');
  });

  it('follows a redirect to another allow-listed loopback path', async () => {
    const before = sink.calls.length;
    const { exec } = await runOne(`${sink.url}/to-local`);
    expect(exec.status).toBe('succeeded');
    expect(sink.calls.slice(before)).toEqual(['/to-local', '/landing']);
    const sealed = await stack.deps.db.query.taskResults.findFirst({ where: (r, { eq }) => eq(r.executionId, exec.id) });
    // Stored encrypted (server/payloads/): read as the engine reads it.
    const output = sealed ? await openTaskResult(stack.deps.db, sealed) : undefined;
    expect(output?.output).toEqual({ status: 200, body: { ok: true, path: '/landing', host: sink.host } });
  });
});
