import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, startTestStack, type TestStack } from '../support/test-stack.ts';

/**
 * Marker values pushed through every door — a secret, and PII in inputs — then searched for in
 * every place MC writes: log lines, Redis (all job data), API responses, receipts, step logs.
 */
const secret = `MARKER-SECRET-${crypto.randomUUID()}`;
const email = `marker.${Date.now()}@example.com`;
const ssn = '123-45-6789';
const logFile = join(mkdtempSync(join(tmpdir(), 'mc-logs-')), 'mc.log');
let sink: ReturnType<typeof Bun.serve>;
let stack: TestStack;

beforeAll(async () => {
  process.env.MC_SECRET_MARKER = secret;
  // A receiver that echoes what it got and fails its first call: the secret travels the error path too.
  let calls = 0;
  sink = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    fetch: async (req) => {
      const body = await req.text();
      calls++;
      return new Response(JSON.stringify({ got: req.headers.get('authorization'), body }), { status: calls === 1 ? 500 : 200, headers: { 'content-type': 'application/json' } });
    },
  });
  stack = await startTestStack({ MC_HTTP_ALLOWED_HOSTS: `127.0.0.1:${sink.port}`, LOG_LEVEL: 'debug', LOG_FILE: logFile });
});
afterAll(async () => {
  await stack.close();
  await sink.stop(true);
  delete process.env.MC_SECRET_MARKER;
});

async function redisDump(prefix: string): Promise<string> {
  const redis = stack.deps.redis;
  const keys = await redis.keys(`${prefix}:*`);
  const parts: string[] = [];
  for (const key of keys) {
    const type = await redis.type(key);
    if (type === 'hash') parts.push(JSON.stringify(await redis.hgetall(key)));
    else if (type === 'string') parts.push((await redis.get(key)) ?? '');
    else if (type === 'list') parts.push(JSON.stringify(await redis.lrange(key, 0, -1)));
    else if (type === 'zset') parts.push(JSON.stringify(await redis.zrange(key, '0', '-1')));
    else if (type === 'set') parts.push(JSON.stringify(await redis.smembers(key)));
    else if (type === 'stream') parts.push(JSON.stringify(await redis.xrange(key, '-', '+')));
  }
  return parts.join('\n');
}

describe('marker secrets and PII', () => {
  it('never appear in logs, Redis job data, responses or receipts', async () => {
    const wf = await stack.trpc.workflows.create.mutate({
      name: 'markers',
      version: '1.0.0',
      dataClassification: 'regulated',
      tasks: [
        { id: 'echo', uses: 'pkg:demo/echo@1.0.0', with: { email: '${{ inputs.email }}', ssn: '${{ inputs.ssn }}', token: '${{ secrets.MARKER }}' } },
        {
          id: 'call',
          uses: 'pkg:mc/http@1.0.0',
          retries: 2,
          needs: ['echo'],
          with: { url: `http://127.0.0.1:${sink.port}/x`, method: 'POST', headers: { authorization: 'Bearer ${{ secrets.MARKER }}' }, body: { who: '${{ inputs.email }}', t: '${{ secrets.MARKER }}' } },
        },
      ],
    });
    await stack.trpc.workflows.publish.mutate({ id: wf.id });
    const exec = await stack.trpc.executions.start.mutate({ workflowId: wf.id, inputs: { email, ssn } });
    const receipt = await stack.trpc.receipts.get.query({ executionId: exec.id });
    const done = await eventually(async () => {
      const e = await stack.trpc.executions.get.query({ id: exec.id });
      return e.status === 'succeeded' ? e : null;
    });
    expect(done.steps.find((s) => s.taskId === 'call')!.attempts).toBe(2);

    const responses = JSON.stringify([
      exec,
      done,
      receipt,
      await stack.trpc.executions.logs.query({ id: exec.id }),
      await stack.trpc.executions.list.query({}),
      await stack.trpc.audit.list.query({}),
      (await stack.rest('GET', `/api/executions/${exec.id}/logs`)).body,
    ]);
    const places = {
      responses,
      logs: readFileSync(logFile, 'utf8'),
      redis: await redisDump(stack.config.MC_QUEUE_PREFIX),
      receiptPayload: Buffer.from((receipt.bundle as { dsseEnvelope: { payload: string } }).dsseEnvelope.payload, 'base64').toString('utf8'),
    };
    expect(places.logs.length).toBeGreaterThan(0);
    for (const [place, text] of Object.entries(places)) {
      for (const marker of [secret, email, ssn]) expect({ place, leaked: text.includes(marker) ? marker : null }).toEqual({ place, leaked: null });
    }
  });
});
