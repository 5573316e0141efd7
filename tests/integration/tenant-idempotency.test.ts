import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { startCountingSink, type CountingSink } from '../support/counting-sink.ts';
import { startTestStack, type TestStack } from '../support/test-stack.ts';

// A step's idempotency key is the spec §11 key scoped by its execution's idempotency token. Client
// tokens are chosen by clients, so two tenants may pick the same one: the key must still differ,
// or one tenant's step would be answered with the other's stored result (and its output).
let stack: TestStack;
let sink: CountingSink;
beforeAll(async () => {
  sink = startCountingSink();
  stack = await startTestStack({ MC_HTTP_ALLOWED_HOSTS: sink.host });
});
afterAll(async () => {
  await stack.close();
  await sink.stop();
});

describe('step idempotency keys across tenants', () => {
  it('never lets two tenants share a stored result, even with the same manifest, inputs and client idempotency key', async () => {
    const manifest = { name: 'same-everywhere', version: '1.0.0', tasks: [{ id: 'call', uses: 'pkg:mc/http@1.0.0', with: { url: `${sink.url}/tenant-shared`, method: 'POST' } }] };
    const runs = [];
    for (const tenant of ['tenant-x', 'tenant-y']) {
      const client = stack.trpcAs(await stack.tokenFor('admin', tenant));
      const wf = await client.workflows.create.mutate(manifest);
      await client.workflows.publish.mutate({ id: wf.id });
      const exec = await client.executions.start.mutate({ workflowId: wf.id, idempotencyKey: 'client-chosen-key' });
      await client.receipts.get.query({ executionId: exec.id });
      runs.push(await client.executions.get.query({ id: exec.id }));
    }
    expect(runs.map((r) => r.status)).toEqual(['succeeded', 'succeeded']);
    // Each tenant's task acted itself, under a key of its own.
    expect(sink.keysFor('/tenant-shared').size).toBe(2);
    expect(runs[0]!.steps[0]!.outputDigest).toBeTruthy();
  });
});
