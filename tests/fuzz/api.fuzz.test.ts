import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import fc from 'fast-check';
import { startTestStack, type TestStack } from '../support/test-stack.ts';

let stack: TestStack;
let workflowId: string;
beforeAll(async () => {
  stack = await startTestStack({ MC_RATE_LIMIT_PER_TOKEN: '1000000', MC_RATE_LIMIT_PER_TENANT: '1000000' }, { worker: false });
  const wf = await stack.trpc.workflows.create.mutate({ name: 'fuzz', version: '1.0.0', tasks: [{ id: 't', uses: 'pkg:demo/echo@1.0.0' }] });
  await stack.trpc.workflows.publish.mutate({ id: wf.id });
  workflowId = wf.id;
});
afterAll(async () => {
  await stack.close();
});

const auth = () => ({ authorization: `Bearer ${stack.adminToken}` });

async function send(method: string, path: string, body: string, contentType = 'application/json'): Promise<number> {
  const res = await stack.app.handle(new Request(`http://mc.test${path}`, { method, headers: { ...auth(), 'content-type': contentType }, body }));
  await res.arrayBuffer();
  return res.status;
}

const nasty = fc.oneof(
  fc.anything({ withNullPrototype: true, withBigInt: false }).map((v) => JSON.stringify(v) ?? 'null'),
  fc.string({ unit: 'binary' }),
  fc.uint8Array({ maxLength: 512 }).map((b) => new TextDecoder('latin1').decode(b)),
  fc.jsonValue().map((v) => JSON.stringify({ __proto__: { polluted: true }, constructor: { prototype: { x: 1 } }, value: v, nul: '\u0000' })),
  fc.record({ name: fc.string(), version: fc.string(), tasks: fc.array(fc.record({ id: fc.string(), uses: fc.string(), needs: fc.array(fc.string()) })) }).map((v) => JSON.stringify(v)),
  fc.record({ workflowId: fc.constant('WF'), inputs: fc.dictionary(fc.string(), fc.jsonValue()), region: fc.string(), idempotencyKey: fc.string() }).map((v) => JSON.stringify(v)),
);

const targets: [string, string][] = [
  ['POST', '/api/workflows'],
  ['POST', '/api/executions'],
  ['PUT', '/api/workflows/WF'],
  ['POST', '/api/workflows/WF/plan'],
  ['POST', '/trpc/workflows.create'],
  ['POST', '/trpc/executions.start'],
];

describe('the API under hostile input', () => {
  it('answers every generated request with 2xx or 4xx, never 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(nasty, fc.constantFrom(...targets), async (body, [method, path]) => {
        const status = await send(method, path.replace('WF', workflowId), body.replace('"WF"', JSON.stringify(workflowId)));
        expect(status).toBeLessThan(500);
      }),
      { numRuns: 600 },
    );
  });

  it('refuses very deep nesting, huge arrays, null bytes and oversize bodies without falling over', async () => {
    const deep = '['.repeat(20_000) + ']'.repeat(20_000);
    const deepObject = '{"a":'.repeat(5_000) + '1' + '}'.repeat(5_000);
    const huge = JSON.stringify({ name: 'huge', version: '1.0.0', tasks: Array.from({ length: 200_000 }, (_, i) => ({ id: `t${i}`, uses: 'pkg:demo/echo@1.0.0' })) });
    const nul = JSON.stringify({ workflowId, inputs: { k: 'a\u0000b' } });
    for (const body of [deep, deepObject, huge, nul]) {
      for (const [method, path] of targets) expect(await send(method, path.replace('WF', workflowId), body)).toBeLessThan(500);
    }
  });

  it('survives a tRPC batch of 1,000 calls', async () => {
    const n = 1000;
    const paths = Array.from({ length: n }, (_, i) => (i % 2 === 0 ? 'workflows.get' : 'executions.list')).join(',');
    const inputs = Object.fromEntries(Array.from({ length: n }, (_, i) => [i, { json: i % 2 === 0 ? { id: workflowId } : { limit: 1 } }]));
    const res = await stack.app.handle(new Request(`http://mc.test/trpc/${paths}?batch=1&input=${encodeURIComponent(JSON.stringify(inputs))}`, { headers: auth() }));
    expect(res.status).toBeLessThan(500);
    const post = await stack.app.handle(
      new Request(`http://mc.test/trpc/${Array.from({ length: n }, () => 'workflows.plan').join(',')}?batch=1`, {
        method: 'POST',
        headers: { ...auth(), 'content-type': 'application/json' },
        body: JSON.stringify(Object.fromEntries(Array.from({ length: n }, (_, i) => [i, { json: { id: 'nope' } }]))),
      }),
    );
    expect(post.status).toBeLessThan(500);
  });

  it('keeps memory bounded across all of it', async () => {
    Bun.gc(true);
    const before = process.memoryUsage().rss;
    for (let i = 0; i < 300; i++) await send('POST', '/api/workflows', JSON.stringify({ name: `m${i}`, version: 'x', tasks: Array.from({ length: 500 }, () => ({ id: 'dup', uses: 'x' })) }));
    Bun.gc(true);
    const growthMb = (process.memoryUsage().rss - before) / 1e6;
    expect(growthMb).toBeLessThan(300);
  });
});
