import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { ListBucketsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { eq } from 'drizzle-orm';
import { receipts } from '@mc/server/db/schema';
import type { S3ObjectStore } from '@mc/server/storage/s3-object-store';
import { s3rverCredentials, startS3rver } from '../support/s3-server.ts';
import { startTestStack, type TestStack } from '../support/test-stack.ts';

/**
 * Residency (spec §3): nothing of a workflow is written outside its region — receipts and large
 * payloads alike — and a request from another region is denied. Two regions on an S3 server.
 */
let s3: Awaited<ReturnType<typeof startS3rver>>;
let stack: TestStack;
beforeAll(async () => {
  s3 = await startS3rver();
  // A small inline limit, so every payload of these runs goes to the object store.
  stack = await startTestStack({ S3_ENDPOINT: s3.endpoint, ...s3rverCredentials, MC_PAYLOAD_INLINE_MAX_BYTES: '16' });
});
afterAll(async () => {
  await stack.close();
  await s3.stop();
});

async function keysOf(bucket: string): Promise<string[]> {
  const client = (stack.deps.objectStore as S3ObjectStore).client;
  const out = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
  return (out.Contents ?? []).map((o) => o.Key!);
}

async function runIn(region: string) {
  const wf = await stack.trpc.workflows.create.mutate({ name: `res-${region}-${crypto.randomUUID().slice(0, 6)}`, version: '1.0.0', region, tasks: [{ id: 't1', uses: 'pkg:demo/echo@1.0.0', with: { note: '${{ inputs.note }}' } }] });
  await stack.trpc.workflows.publish.mutate({ id: wf.id });
  const exec = await stack.trpc.executions.start.mutate({ workflowId: wf.id, inputs: { note: `a payload that lives in ${region} only` } });
  expect((await stack.trpc.receipts.get.query({ executionId: exec.id })).verified).toBe(true);
  return { wf, exec };
}

describe('data residency', () => {
  it('writes an eu workflow’s receipt and payloads only to eu buckets, never to us', async () => {
    const us = await runIn('us');
    const eu = await runIn('eu');
    const client = (stack.deps.objectStore as S3ObjectStore).client;
    const buckets = ((await client.send(new ListBucketsCommand({}))).Buckets ?? []).map((b) => b.Name!).sort();
    expect(buckets).toEqual(['mc-eu-payloads', 'mc-eu-receipts', 'mc-us-payloads', 'mc-us-receipts']);
    for (const bucket of buckets) {
      const keys = await keysOf(bucket);
      expect(keys.length).toBeGreaterThan(0);
      const [own, other] = bucket.startsWith('mc-eu-') ? [eu, us] : [us, eu];
      expect(keys.every((k) => k.includes(own.exec.id))).toBe(true);
      expect(keys.some((k) => k.includes(other.exec.id))).toBe(false);
    }
    // Both payloads (inputs and output) of the eu run are in the eu payload bucket, and they read back.
    expect((await keysOf('mc-eu-payloads')).filter((k) => k.startsWith(`payloads/${eu.exec.id}/`)).length).toBeGreaterThanOrEqual(1);
    expect((await stack.trpc.executions.get.query({ id: eu.exec.id })).inputs).toEqual({ note: 'a payload that lives in eu only' });
  });

  it('denies a request from another region (residency pack)', async () => {
    const wf = await stack.trpc.workflows.create.mutate({ name: `res-deny-${crypto.randomUUID().slice(0, 6)}`, version: '1.0.0', region: 'eu', tasks: [{ id: 't1', uses: 'pkg:demo/echo@1.0.0' }] });
    await stack.trpc.workflows.publish.mutate({ id: wf.id });
    const res = await stack.rest('POST', '/api/executions', { workflowId: wf.id, region: 'us' });
    expect(res.status).toBe(403);
    expect(JSON.stringify(res.body)).toContain('residency');
  });

  it('refuses to delete a receipt before its retention ends (S3 store)', async () => {
    const { exec } = await runIn('eu');
    const [row] = await stack.deps.db.select().from(receipts).where(eq(receipts.executionId, exec.id));
    await expect(stack.deps.objectStore.deleteObject(row!.bucket, row!.objectKey)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(await keysOf(row!.bucket)).toContain(row!.objectKey);
  });
});
