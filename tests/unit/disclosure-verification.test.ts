import { beforeAll, describe, expect, it } from 'bun:test';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import * as CDX from '@cyclonedx/cyclonedx-library';
import fc from 'fast-check';
import { assembleDisclosurePack, buildSbom, type DisclosureParts } from '@mc/server/disclosure/disclosure-pack';
import { sha256Hex } from '@mc/shared/canonical-json';
import { coveredFiles, logsFile, MANIFEST_FILE, MANIFEST_SIG_FILE } from '@mc/shared/disclosure-layout';
import { verifyDisclosurePack, verifyReceiptFiles } from '@mc/shared/disclosure-verification';
import { buildStatement, type ReceiptFacts } from '@mc/shared/receipt-statement';
import { generateSigningKeyPem, signingKeyFromPem, signStatement, type SigningKey } from '@mc/shared/receipt-signing';
import { publicKeyFromPem, type ReceiptPublicKey } from '@mc/shared/receipt-verification';
import { readTar, readTarGz, writeTar, writeTarGz, type TarEntry } from '@mc/shared/tar-archive';

const executionId = '0b6f4a52-2a4c-4d43-9d0a-6a3c1f0e9a11';
const policyBundles = new TextEncoder().encode(`${'a'.repeat(64)}  rego/access.rego\n${'b'.repeat(64)}  rego/pii.rego\n`);
const bundleDigest = `sha256:${sha256Hex(policyBundles)}`;
const decisionId = '5a1e3d0c-7d59-4b6f-8f0c-3d2e1b0a9c88';

function facts(): ReceiptFacts {
  return {
    execution: {
      id: executionId,
      status: 'succeeded',
      region: 'us',
      actor: { sub: 'local-operator' },
      idempotencyToken: executionId,
      createdAt: '2025-09-29T10:00:00.000Z',
      startedAt: '2025-09-29T10:00:00.100Z',
      finishedAt: '2025-09-29T10:00:01.000Z',
      traceId: null,
      rollout: null,
      costUsd: '0.0002',
    },
    workflow: { id: '9d3c2b1a-0f9e-4d8c-8b7a-6a5f4e3d2c1b', name: 'hp', version: '0.1.0', manifestDigest: `sha256:${'c'.repeat(64)}` },
    inputsDigest: `sha256:${'d'.repeat(64)}`,
    outputsDigest: `sha256:${'e'.repeat(64)}`,
    steps: [
      { taskId: 't1', uses: 'pkg:demo/echo@1.0.0', status: 'succeeded', attempts: 1, startedAt: null, finishedAt: null, durationMs: 3, outputDigest: null, error: null },
      { taskId: 't2', uses: 'pkg:mc/sleep@1.0.0', status: 'succeeded', attempts: 1, startedAt: null, finishedAt: null, durationMs: 5, outputDigest: null, error: null },
    ],
    policy: { bundleDigest, decisions: [{ decisionId, pack: 'pii', allow: true, reasons: [] }] },
    runner: { id: 'test/1', version: '0.1.0' },
  };
}

let key: SigningKey;
let trusted: ReceiptPublicKey[];
let other: ReceiptPublicKey[];
let parts: DisclosureParts;
let pack: Uint8Array;

beforeAll(async () => {
  key = signingKeyFromPem(generateSigningKeyPem());
  trusted = [{ keyId: key.keyId, publicKeyPem: key.publicKeyPem }];
  other = [publicKeyFromPem(generateSigningKeyPem())];
  const statement = buildStatement(facts());
  const signed = await signStatement(statement, key);
  parts = {
    executionId,
    statement,
    receiptBundle: new TextEncoder().encode(JSON.stringify(signed.bundle)),
    decisions: [
      { decisionId, pack: 'pii', allow: true, reasons: [], bundleDigest, backend: 'embedded', phase: 'execute', action: 'execute', executionId, createdAt: '2025-09-29T10:00:00.000Z' },
    ],
    policyBundles,
    logs: [
      { id: 1, ts: '2025-09-29T10:00:00.200Z', level: 'info', taskId: 't1', attempt: 1, message: 'started', data: null },
      { id: 2, ts: '2025-09-29T10:00:00.300Z', level: 'info', taskId: 't1', attempt: 1, message: 'succeeded', data: { email: '[REDACTED]' } },
    ],
    mtimeSeconds: 1_759_140_001,
  };
  pack = (await assembleDisclosurePack(parts, key)).bytes;
});

function entriesOf(tgz: Uint8Array): TarEntry[] {
  const r = readTarGz(tgz);
  if (!r.ok) throw new Error(r.reason);
  return r.entries;
}

function replaced(tgz: Uint8Array, path: string, change: (data: Uint8Array) => Uint8Array | null): Uint8Array {
  const out: TarEntry[] = [];
  for (const e of entriesOf(tgz)) {
    if (e.path !== path) out.push(e);
    else {
      const data = change(e.data);
      if (data) out.push({ path, data });
    }
  }
  return writeTarGz(out);
}

function flip(data: Uint8Array, at: number, mask = 0xff): Uint8Array<ArrayBuffer> {
  const copy = new Uint8Array(data);
  copy[at] = (copy[at] ?? 0) ^ mask;
  return copy;
}

describe('verifyDisclosurePack', () => {
  it('accepts a pack the builder made, with every file listed', async () => {
    const r = await verifyDisclosurePack(pack, trusted);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.executionId).toBe(executionId);
    expect(r.files.map((f) => f.path)).toEqual([...coveredFiles(executionId), MANIFEST_FILE, MANIFEST_SIG_FILE]);
    expect(r.receiptDigest).toBe(r.files[0]!.digest);
  });

  it('fails against the wrong public key, naming manifest.sig', async () => {
    const r = await verifyDisclosurePack(pack, other);
    expect(r).toMatchObject({ ok: false, file: MANIFEST_SIG_FILE });
    if (!r.ok) expect(r.reason).toContain('not among the trusted keys');
  });

  it('fails with no key at all', async () => {
    expect(await verifyDisclosurePack(pack, [])).toMatchObject({ ok: false, reason: 'no trusted public key given' });
  });

  it('names the file when one byte of it changes (every file, first and last byte)', async () => {
    for (const e of entriesOf(pack)) {
      for (const at of [0, e.data.length - 1, Math.floor(e.data.length / 2)]) {
        const r = await verifyDisclosurePack(replaced(pack, e.path, (d) => flip(d, at)), trusted);
        expect(r.ok).toBe(false);
        if (!r.ok) expect(r.file).toBe(e.path);
      }
    }
  });

  it('names a covered file that is missing, and a file that was added', async () => {
    const log = logsFile(executionId);
    const missing = await verifyDisclosurePack(replaced(pack, log, () => null), trusted);
    expect(missing).toMatchObject({ ok: false, file: log });
    const extra = writeTarGz([...entriesOf(pack), { path: 'extra.txt', data: new Uint8Array([1]) }]);
    expect(await verifyDisclosurePack(extra, trusted)).toMatchObject({ ok: false, file: 'extra.txt' });
    const noManifest = await verifyDisclosurePack(replaced(pack, MANIFEST_FILE, () => null), trusted);
    expect(noManifest).toMatchObject({ ok: false, file: MANIFEST_FILE });
  });

  it('refuses a re-signed pack whose policy bundle differs from the one the receipt names', async () => {
    const changed = new TextEncoder().encode(`${'f'.repeat(64)}  rego/access.rego\n`);
    const r = await verifyDisclosurePack((await assembleDisclosurePack({ ...parts, policyBundles: changed }, key)).bytes, trusted);
    expect(r).toMatchObject({ ok: false, file: 'policy/bundles.sha256' });
  });

  it('refuses a re-signed pack holding another execution\'s decision or log line', async () => {
    const foreign = '11111111-2222-4333-8444-555555555555';
    const d = await verifyDisclosurePack((await assembleDisclosurePack({ ...parts, decisions: [{ ...parts.decisions[0]!, executionId: foreign }] }, key)).bytes, trusted);
    expect(d).toMatchObject({ ok: false, file: 'policy/decisions.json' });
    if (!d.ok) expect(d.reason).toContain(foreign);
    const withoutNamed = await verifyDisclosurePack((await assembleDisclosurePack({ ...parts, decisions: [] }, key)).bytes, trusted);
    expect(withoutNamed).toMatchObject({ ok: false, file: 'policy/decisions.json' });
    // A log line is tagged with the pack's execution when packed: forge one by hand.
    const log = logsFile(executionId);
    const forged = replaced(pack, log, () => new TextEncoder().encode(`${JSON.stringify({ executionId: foreign, id: 1, ts: 'x', level: 'info', taskId: null, message: 'm' })}\n`));
    expect(await verifyDisclosurePack(forged, trusted)).toMatchObject({ ok: false, file: log });
  });

  it('refuses a pack whose receipt was signed by another key, naming receipt.sig', async () => {
    const stranger = signingKeyFromPem(generateSigningKeyPem());
    const signed = await signStatement(parts.statement, stranger);
    const r = await verifyDisclosurePack((await assembleDisclosurePack({ ...parts, receiptBundle: new TextEncoder().encode(JSON.stringify(signed.bundle)) }, key)).bytes, trusted);
    expect(r).toMatchObject({ ok: false, file: 'receipt.sig' });
  });

  it('property: one flipped byte anywhere in the tar never verifies', async () => {
    const tar = new Uint8Array(gunzipSync(pack));
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: tar.length - 1 }), fc.integer({ min: 1, max: 255 }), async (at, mask) => {
        const r = await verifyDisclosurePack(new Uint8Array(Bun.gzipSync(flip(tar, at, mask))), trusted);
        return !r.ok;
      }),
      { numRuns: 300 },
    );
  });

  it('property: one flipped byte in any file of the pack never verifies and names that file', async () => {
    const entries = entriesOf(pack);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: entries.length - 1 }), fc.nat(), fc.integer({ min: 1, max: 255 }), async (i, pos, mask) => {
        const e = entries[i]!;
        const r = await verifyDisclosurePack(replaced(pack, e.path, (d) => flip(d, pos % d.length, mask)), trusted);
        return !r.ok && r.file === e.path;
      }),
      { numRuns: 300 },
    );
  });

  it('every single-byte change of manifest.sig fails (lenient base64 cannot hide one)', async () => {
    const sig = entriesOf(pack).find((e) => e.path === MANIFEST_SIG_FILE)!.data;
    for (let at = 0; at < sig.length; at++) {
      const r = await verifyDisclosurePack(replaced(pack, MANIFEST_SIG_FILE, (d) => flip(d, at, 0x01)), trusted);
      if (r.ok) throw new Error(`flipping byte ${at} of manifest.sig still verifies`);
    }
  });

  it('property: arbitrary bytes and garbage tarballs are answered, never thrown', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 4096 }), async (bytes) => {
        const raw = await verifyDisclosurePack(bytes, trusted);
        const gz = await verifyDisclosurePack(new Uint8Array(Bun.gzipSync(bytes)), trusted);
        return !raw.ok && !gz.ok && typeof raw.message === 'string' && typeof gz.message === 'string';
      }),
      { numRuns: 300 },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(fc.record({ path: fc.constantFrom(MANIFEST_FILE, MANIFEST_SIG_FILE, ...coveredFiles(executionId), 'x/y.json'), data: fc.uint8Array({ maxLength: 600 }) }), { maxLength: 8 }), async (entries) => {
        const unique = [...new Map(entries.map((e) => [e.path, e])).values()];
        const r = await verifyDisclosurePack(writeTarGz(unique), trusted);
        return !r.ok;
      }),
      { numRuns: 200 },
    );
  });
});

describe('verifyReceiptFiles', () => {
  it('verifies a receipt saved as statement + bundle, pretty-printed or not, and names the altered one', async () => {
    const bundle = parts.receiptBundle;
    const pretty = new TextEncoder().encode(JSON.stringify(parts.statement, null, 2));
    expect(await verifyReceiptFiles(pretty, bundle, trusted)).toMatchObject({ ok: true, executionId });
    const altered = new TextEncoder().encode(JSON.stringify({ ...parts.statement, predicateType: 'x' }));
    expect(await verifyReceiptFiles(altered, bundle, trusted)).toMatchObject({ ok: false, file: 'receipt.json' });
    expect(await verifyReceiptFiles(pretty, bundle, other)).toMatchObject({ ok: false, file: 'bundle.json' });
    expect(await verifyReceiptFiles(new Uint8Array([1, 2]), bundle, trusted)).toMatchObject({ ok: false, file: 'receipt.json' });
  });
});

describe('tar-archive', () => {
  it('round-trips, and `tar` reads what it writes', () => {
    const entries = [
      { path: 'a.txt', data: new TextEncoder().encode('hello\n') },
      { path: 'dir/b.bin', data: new Uint8Array(1025).fill(7) },
      { path: 'empty', data: new Uint8Array() },
    ];
    expect(readTar(writeTar(entries))).toEqual({ ok: true, entries });
    const dir = mkdtempSync(join(tmpdir(), 'mc-tar-'));
    try {
      writeFileSync(join(dir, 'p.tgz'), writeTarGz(entries));
      const listed = spawnSync('tar', ['-tzf', join(dir, 'p.tgz')], { encoding: 'utf8' });
      expect(listed.stdout.trim().split('\n')).toEqual(['a.txt', 'dir/b.bin', 'empty']);
      spawnSync('tar', ['-xzf', join(dir, 'p.tgz'), '-C', dir]);
      expect(readFileSync(join(dir, 'a.txt'), 'utf8')).toBe('hello\n');
      // And reads what GNU tar writes (directory entries skipped, record padding accepted).
      const made = spawnSync('tar', ['--format=ustar', '-czf', join(dir, 'gnu.tgz'), '-C', dir, 'a.txt', 'dir'], { encoding: 'utf8' });
      expect(made.status).toBe(0);
      const back = readTarGz(readFileSync(join(dir, 'gnu.tgz')));
      expect(back.ok && back.entries.map((e) => e.path).sort()).toEqual(['a.txt', 'dir/b.bin']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses unsafe names, links and duplicates', () => {
    expect(() => writeTar([{ path: '../x', data: new Uint8Array() }])).toThrow();
    const tar = writeTar([{ path: 'a', data: new Uint8Array([1]) }]);
    const link = tar.slice();
    link[156] = '2'.charCodeAt(0);
    // Fix the checksum so only the type is wrong.
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : link[i]!;
    link.set(new TextEncoder().encode(sum.toString(8).padStart(6, '0') + '\0 '), 148);
    expect(readTar(link)).toMatchObject({ ok: false, reason: expect.stringContaining('unsupported tar entry type') });
    const dup = writeTar([{ path: 'a', data: new Uint8Array() }, { path: 'a', data: new Uint8Array() }]);
    expect(readTar(dup)).toMatchObject({ ok: false, reason: expect.stringContaining('twice') });
  });
});

describe('sbom.json', () => {
  it('is valid CycloneDX 1.5 listing the task packages (generic purls) and the MC build', async () => {
    const text = new TextDecoder().decode(buildSbom(parts.statement));
    const validator = new CDX.Validation.JsonStrictValidator(CDX.Spec.Version.v1dot5);
    expect(await validator.validate(text)).toBeNull();
    const sbom = JSON.parse(text);
    expect(sbom).toMatchObject({ bomFormat: 'CycloneDX', specVersion: '1.5' });
    const purls: string[] = sbom.components.map((c: { purl: string }) => c.purl).sort();
    expect(purls.filter((p) => p.startsWith('pkg:generic/'))).toEqual(['pkg:generic/demo/echo@1.0.0', 'pkg:generic/maestro-conductor@0.1.0', 'pkg:generic/mc/sleep@1.0.0']);
    // MC's own runtime npm packages (server/sbom/mc-sbom.ts) are there too.
    expect(purls).toContain('pkg:npm/zod@4.6.7');
    expect(sbom.metadata.component.name).toBe('hp');
  });
});
