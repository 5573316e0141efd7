import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { createPdp } from '@mc/server/policy/pdp';
import { startTestStack, type TestStack } from '../support/test-stack.ts';

/** An OPA that answers with whatever the current mode says: slow, 500, garbage, or no decision. */
let mode: 'slow' | 'error' | 'garbage' | 'no-result' = 'slow';
const opa = Bun.serve({
  hostname: '127.0.0.1',
  port: 0,
  async fetch() {
    if (mode === 'slow') {
      await Bun.sleep(1_000);
      return Response.json({ result: { allow: true, reasons: [] } });
    }
    if (mode === 'error') return new Response('boom', { status: 500 });
    if (mode === 'no-result') return Response.json({ decision_id: 'x' });
    return new Response('<html>not json', { status: 200 });
  },
});

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({}, { worker: false });
});
afterAll(async () => {
  await stack.close();
  await opa.stop(true);
});

/** Drafts are made while the embedded PDP answers; then OPA (misbehaving) becomes the PDP for the publish. */
async function publishWithOpa(name: string, opaUrl: string) {
  const wf = await stack.trpc.workflows.create.mutate({ name, version: '1.0.0', tasks: [{ id: 't1', uses: 'pkg:demo/echo@1.0.0' }] });
  const embedded = stack.deps.pdp;
  stack.deps.pdp = createPdp({ backend: 'opa', opaUrl, timeoutMs: 100 });
  try {
    return { id: wf.id, res: await stack.rest('POST', `/api/workflows/${wf.id}/publish`) };
  } finally {
    stack.deps.pdp = embedded;
  }
}

describe('an OPA that does not answer', () => {
  for (const m of ['slow', 'error', 'garbage', 'no-result'] as const) {
    it(`denies with pdp_unavailable when it is ${m}, and nothing is published`, async () => {
      mode = m;
      const { id, res } = await publishWithOpa(`fc-${m}`, `http://127.0.0.1:${opa.port}/v1/data`);
      expect(res.status).toBe(403);
      expect(res.body.error.details.reasons).toContain('pdp_unavailable');
      expect(res.body.error.message).toContain('fail closed');
      expect((await stack.trpc.workflows.get.query({ id })).status).toBe('draft');
    });
  }

  it('denies when it is not there at all', async () => {
    const { res } = await publishWithOpa('fc-gone', 'http://127.0.0.1:9/v1/data');
    expect(res.status).toBe(403);
    expect(res.body.error.details.reasons).toContain('pdp_unavailable');
  });
});
