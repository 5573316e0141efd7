import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { S3ObjectStore } from '@mc/server/storage/s3-object-store';
import { s3rverCredentials, startS3rver } from '../support/s3-server.ts';
import { startTestStack, type TestStack } from '../support/test-stack.ts';

let s3: Awaited<ReturnType<typeof startS3rver>>;
let stack: TestStack;
beforeAll(async () => {
  s3 = await startS3rver();
  stack = await startTestStack({ S3_ENDPOINT: s3.endpoint, ...s3rverCredentials });
});
afterAll(async () => {
  await stack.close();
  await s3.stop();
});

describe('receipts on the S3 store', () => {
  it('stores each receipt in its region’s bucket over the S3 protocol, and it verifies', async () => {
    expect(stack.deps.objectStore.kind).toBe('s3');
    const ids: Record<string, string> = {};
    for (const region of ['us', 'eu']) {
      const wf = await stack.trpc.workflows.create.mutate({ name: `s3-${region}`, version: '1.0.0', region, tasks: [{ id: 't1', uses: 'pkg:demo/echo@1.0.0' }] });
      await stack.trpc.workflows.publish.mutate({ id: wf.id });
      const exec = await stack.trpc.executions.start.mutate({ workflowId: wf.id });
      const receipt = await stack.trpc.receipts.get.query({ executionId: exec.id });
      expect(receipt.storedUri).toBe(`s3://mc-${region}-receipts/receipts/${exec.id}.sigstore.json`);
      expect(receipt.verified).toBe(true);
      expect((await stack.trpc.receipts.verify.mutate({ executionId: exec.id })).verified).toBe(true);
      ids[region] = exec.id;
    }
    // Read back with the SDK directly: the bytes in the bucket are the bundle the API returns.
    const client = (stack.deps.objectStore as S3ObjectStore).client;
    const got = await client.send(new GetObjectCommand({ Bucket: 'mc-eu-receipts', Key: `receipts/${ids.eu}.sigstore.json` }));
    const bundle = JSON.parse(await got.Body!.transformToString());
    expect(bundle.dsseEnvelope.payloadType).toBe('application/vnd.in-toto+json');
    // Nothing of the eu workflow lands in the us bucket.
    const usKeys = await client.send(new ListObjectsV2Command({ Bucket: 'mc-us-receipts' }));
    expect((usKeys.Contents ?? []).map((o) => o.Key)).toEqual([`receipts/${ids.us}.sigstore.json`]);
  });
});
