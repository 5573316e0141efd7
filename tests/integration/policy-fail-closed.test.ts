import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { startTestStack, type TestStack } from '../support/test-stack.ts';

/** An OPA that answers with whatever the current mode says: slow, 500, garbage, or gone. */
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
  stack = await startTestStack({ MC_PDP: 'opa', OPA_URL: `http://127.0.0.1:${opa.port}/v1/data`, MC_PDP_TIMEOUT_MS: '100' }, { worker: false });
});
afterAll(async () => {
  await stack.close();
  await opa.stop(true);
});

describe('an OPA that does not answer', () => {
  for (const m of ['slow', 'error', 'garbage', 'no-result'] as const) {
    it(`denies with pdp_unavailable when it is ${m}`, async () => {
      mode = m;
      const wf = await stack.trpc.workflows.create.mutate({ name: `fc-${m}`, version: '1.0.0', tasks: [{ id: 't1', uses: 'pkg:demo/echo@1.0.0' }] });
      const res = await stack.rest('POST', `/api/workflows/${wf.id}/publish`);
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('POLICY_DENIED');
      expect(res.body.error.details.reasons).toContain('pdp_unavailable');
    });
  }

  it('denies when it is not there at all', async () => {
    const closed = await startTestStack({ MC_PDP: 'opa', OPA_URL: 'http://127.0.0.1:9/v1/data' }, { worker: false });
    try {
      const wf = await closed.trpc.workflows.create.mutate({ name: 'fc-gone', version: '1.0.0', tasks: [{ id: 't1', uses: 'pkg:demo/echo@1.0.0' }] });
      const res = await closed.rest('POST', `/api/workflows/${wf.id}/publish`);
      expect(res.status).toBe(403);
      expect(res.body.error.details.reasons).toContain('pdp_unavailable');
    } finally {
      await closed.close();
    }
  });
});
