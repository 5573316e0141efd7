import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { verifyReceiptBundle } from '@mc/shared/receipt-verification';
import { startTestStack, type TestStack } from '../support/test-stack.ts';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack.close();
});

describe('spec §17 happy path', () => {
  it('create → publish → execute → receipt → verify over REST', async () => {
    const wf = await stack.rest('POST', '/api/workflows', { name: 'hp', version: '0.1.0', tasks: [{ id: 't1', uses: 'pkg:demo/echo@1.0.0' }] });
    expect(wf.status).toBe(201);
    expect(wf.body).toMatchObject({ name: 'hp', version: '0.1.0', status: 'draft', region: 'us' });
    const pub = await stack.rest('POST', `/api/workflows/${wf.body.id}/publish`);
    expect(pub.status).toBe(200);
    expect(pub.body.status).toBe('published');
    const exec = await stack.rest('POST', '/api/executions', { workflowId: wf.body.id, rollout: 'canary' });
    expect(exec.status).toBe(201);
    expect(exec.body.rollout).toBe('canary');
    const rec = await stack.rest('GET', `/api/executions/${exec.body.id}/receipt`);
    expect(rec.status).toBe(200);
    expect(rec.body.verified).toBe(true);
    expect(rec.body.storedUri).toContain('mc-us-receipts');
    expect(rec.body.receipt.predicate.execution).toMatchObject({ id: exec.body.id, status: 'succeeded' });
    expect(rec.body.bundle.mediaType).toBe('application/vnd.dev.sigstore.bundle.v0.3+json');

    // Anyone can verify offline with the published key.
    const keys = await stack.rest('GET', '/api/keys');
    expect(keys.body.keys[0].publicKeyPem).toContain('BEGIN PUBLIC KEY');
    const offline = await verifyReceiptBundle(rec.body.bundle, keys.body.keys, { executionId: exec.body.id, digest: rec.body.digest });
    expect(offline.ok).toBe(true);

    const verify = await stack.rest('POST', `/api/executions/${exec.body.id}/receipt/verify`);
    expect(verify.body).toMatchObject({ verified: true, reason: null });

    const got = await stack.rest('GET', `/api/executions/${exec.body.id}`);
    expect(got.body.status).toBe('succeeded');
    expect(got.body.steps).toHaveLength(1);
    expect(got.body.receipt.verified).toBe(true);
  });

  it('create → publish → execute → receipt → verify over the typed tRPC client', async () => {
    const wf = await stack.trpc.workflows.create.mutate({ name: 'hp-trpc', version: '1.0.0', tasks: [{ id: 't1', uses: 'pkg:demo/echo@1.0.0', with: { greeting: '${{ inputs.name }}' } }] });
    const published = await stack.trpc.workflows.publish.mutate({ id: wf.id });
    expect(published.publishedAt).toBeInstanceOf(Date);
    const exec = await stack.trpc.executions.start.mutate({ workflowId: wf.id, inputs: { name: 'Ada' } });
    expect(exec.created).toBe(true);
    const receipt = await stack.trpc.receipts.get.query({ executionId: exec.id });
    expect(receipt.verified).toBe(true);
    const verified = await stack.trpc.receipts.verify.mutate({ executionId: exec.id });
    expect(verified.verified).toBe(true);
    const logs = await stack.trpc.executions.logs.query({ id: exec.id });
    expect(logs.some((l) => l.taskId === 't1')).toBe(true);
    const list = await stack.trpc.executions.list.query({ workflowId: wf.id });
    expect(list.items.map((e) => e.id)).toEqual([exec.id]);
  });
});
