import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { verifyReceiptBundle } from '@mc/shared/receipt-verification';
import { generateSigningKeyPem, signingKeyFromPem } from '@mc/shared/receipt-signing';
import { startTestStack, type TestStack } from '../support/test-stack.ts';

let stack: TestStack;
let executionId: string;
let storedPath: string;
let original: string;
beforeAll(async () => {
  stack = await startTestStack();
  const wf = await stack.trpc.workflows.create.mutate({ name: 'tamper', version: '1.0.0', tasks: [{ id: 't1', uses: 'pkg:demo/echo@1.0.0', with: { v: 1 } }] });
  await stack.trpc.workflows.publish.mutate({ id: wf.id });
  executionId = (await stack.trpc.executions.start.mutate({ workflowId: wf.id })).id;
  const receipt = await stack.trpc.receipts.get.query({ executionId });
  storedPath = fileURLToPath(receipt.storedUri);
  original = readFileSync(storedPath, 'utf8');
});
afterAll(async () => {
  await stack.close();
});

/** Rewrites the stored object as an attacker with filesystem access would (the store itself refuses overwrites). */
function overwrite(text: string) {
  chmodSync(storedPath, 0o644);
  writeFileSync(storedPath, text);
  chmodSync(storedPath, 0o444);
}

describe('a stored receipt at rest', () => {
  it('verifies untouched', async () => {
    expect((await stack.trpc.receipts.verify.mutate({ executionId })).verified).toBe(true);
  });

  it('fails verification when any byte of the payload is flipped', async () => {
    const bundle = JSON.parse(original);
    const payload = Buffer.from(bundle.dsseEnvelope.payload, 'base64');
    for (let i = 0; i < payload.length; i++) {
      const flipped = Buffer.from(payload);
      flipped[i] = flipped[i]! ^ 0x01;
      const tampered = { ...bundle, dsseEnvelope: { ...bundle.dsseEnvelope, payload: flipped.toString('base64') } };
      const keys = [{ keyId: stack.deps.signingKey.keyId, publicKeyPem: stack.deps.signingKey.publicKeyPem }];
      const result = await verifyReceiptBundle(tampered, keys, { executionId });
      expect(result.ok).toBe(false);
    }
  });

  it('fails verification through the API when the stored payload or signature changes', async () => {
    const bundle = JSON.parse(original);
    const payload = Buffer.from(bundle.dsseEnvelope.payload, 'base64');
    payload[payload.length >> 1] = payload[payload.length >> 1]! ^ 0x20;
    overwrite(JSON.stringify({ ...bundle, dsseEnvelope: { ...bundle.dsseEnvelope, payload: payload.toString('base64') } }));
    const afterPayload = await stack.trpc.receipts.verify.mutate({ executionId });
    expect(afterPayload.verified).toBe(false);
    expect(afterPayload.reason).toContain('signature');

    const sig = Buffer.from(bundle.dsseEnvelope.signatures[0].sig, 'base64');
    sig[10] = sig[10]! ^ 0x01;
    overwrite(JSON.stringify({ ...bundle, dsseEnvelope: { ...bundle.dsseEnvelope, signatures: [{ ...bundle.dsseEnvelope.signatures[0], sig: sig.toString('base64') }] } }));
    const afterSig = await stack.trpc.receipts.verify.mutate({ executionId });
    expect(afterSig.verified).toBe(false);

    overwrite(original);
    expect((await stack.trpc.receipts.verify.mutate({ executionId })).verified).toBe(true);
  });

  it('does not verify against another key', async () => {
    const other = signingKeyFromPem(generateSigningKeyPem());
    const result = await verifyReceiptBundle(JSON.parse(original), [{ keyId: stack.deps.signingKey.keyId, publicKeyPem: other.publicKeyPem }], { executionId });
    expect(result.ok).toBe(false);
  });

  it('cannot be overwritten or deleted through the store', async () => {
    const row = await stack.trpc.receipts.get.query({ executionId });
    const bucket = 'mc-us-receipts';
    const key = `receipts/${executionId}.sigstore.json`;
    const put = await stack.deps.objectStore.putObjectOnce(bucket, key, '{"forged":true}', { contentType: 'application/json' });
    expect(put.created).toBe(false);
    expect(readFileSync(storedPath, 'utf8')).toBe(original);
    await expect(stack.deps.objectStore.deleteObject(bucket, key)).rejects.toThrow(/retain/i);
    expect(row.verified).toBe(true);
  });
});
