import { SBOM_FILE } from '@mc/shared/disclosure-layout';
import { verifyDisclosurePack } from '@mc/shared/disclosure-verification';
import { verifyReceiptBundle } from '@mc/shared/receipt-verification';
import { readTarGz } from '@mc/shared/tar-archive';
import { startTestStack } from '../tests/support/test-stack.ts';
import { fail, pass, type Check } from './compliance-check.ts';

/**
 * "Cosign signatures verified" on a real execution: the test harness (a temporary database on
 * the machine's Postgres, a Redis queue prefix, a temp object store and signing key) runs one
 * workflow end to end; its receipt must verify offline with the published key, a one-byte
 * tamper must not, and its disclosure pack must verify and carry MC's SBOM components. The
 * execution's audit events are handed to the events check.
 */
export const receiptsCheck: Check = {
  id: 'receipts',
  checklist: 'Cosign signatures verified (Sigstore bundles); SBOM attached to disclosure packs',
  async run(_opts, shared) {
    const stack = await startTestStack();
    try {
      const wf = await stack.trpc.workflows.create.mutate({ name: `compliance-${Date.now()}`, version: '1.0.0', tasks: [{ id: 't1', uses: 'pkg:demo/echo@1.0.0', with: { n: '${{ inputs.n }}' } }] });
      await stack.trpc.workflows.publish.mutate({ id: wf.id });
      const exec = await stack.trpc.executions.start.mutate({ workflowId: wf.id, inputs: { n: 1 } });
      const receipt = await stack.trpc.receipts.get.query({ executionId: exec.id });
      const keys = (await stack.rest('GET', '/api/keys')).body.keys as { keyId: string; publicKeyPem: string }[];
      const verified = await verifyReceiptBundle(receipt.bundle, keys, { executionId: exec.id });
      if (!verified.ok) return fail(`the receipt of sample execution ${exec.id} does not verify: ${verified.reason}`);
      const tampered = JSON.parse(JSON.stringify(receipt.bundle)) as { dsseEnvelope: { payload: string } };
      const payload = Buffer.from(tampered.dsseEnvelope.payload, 'base64');
      payload[payload.length - 2] = (payload[payload.length - 2]! + 1) % 256;
      tampered.dsseEnvelope.payload = payload.toString('base64');
      if ((await verifyReceiptBundle(tampered, keys, { executionId: exec.id })).ok) return fail('a tampered receipt verified: the verifier is not checking signatures');

      const pack = await stack.app.handle(new Request(`http://mc.test/api/executions/${exec.id}/disclosure.tgz`, { headers: { authorization: `Bearer ${stack.adminToken}` } }));
      const bytes = new Uint8Array(await pack.arrayBuffer());
      const disclosed = await verifyDisclosurePack(bytes, keys);
      if (!disclosed.ok) return fail(`the disclosure pack of ${exec.id} does not verify: ${disclosed.message}`);
      const tar = readTarGz(bytes);
      const sbom = tar.ok ? tar.entries.find((e) => e.path === SBOM_FILE) : undefined;
      const npmComponents = sbom ? ((JSON.parse(new TextDecoder().decode(sbom.data)) as { components?: { purl?: string }[] }).components ?? []).filter((c) => c.purl?.startsWith('pkg:npm/')).length : 0;
      if (npmComponents === 0) return fail(`the disclosure pack's ${SBOM_FILE} lists none of MC's npm packages`);

      const audit = await stack.trpc.audit.list.query({ limit: 100 });
      shared.sampleEvents = audit.items.map((e) => ({ id: e.id, ts: new Date(e.ts).toISOString(), type: e.type, actor: e.actor, subject: e.subject, data: e.data }));
      return pass(
        `sample execution ${exec.id} (${receipt.verified ? 'verified at issue' : 'unverified at issue'}): receipt ${verified.digest} verifies offline; a tampered copy does not`,
        `disclosure pack verifies (${disclosed.files.length} files); its SBOM lists ${npmComponents} MC npm packages`,
      );
    } finally {
      await stack.close();
    }
  },
};
