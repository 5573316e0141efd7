import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { canonicalJson } from '@mc/shared/canonical-json';
import { exitCodes, usageError } from '../cli-errors.ts';
import { stringValue, type Command } from '../context.ts';

async function writeOut(path: string, data: string | Uint8Array): Promise<void> {
  try {
    await writeFile(path, data);
  } catch (e) {
    throw usageError(`cannot write ${path}: ${e instanceof Error && 'code' in e ? String(e.code) : String(e)}`, 'check the -o path');
  }
}

export const receiptGetCommand: Command = {
  words: ['receipt', 'get'],
  args: '<executionId>',
  minArgs: 1,
  maxArgs: 1,
  summary: 'show an execution\'s signed receipt; -o DIR saves receipt.json + bundle.json for `mc verify`',
  options: {
    out: { type: 'string', short: 'o', description: 'directory to write receipt.json and bundle.json into', valueName: 'DIR' },
    wait: { type: 'string', description: 'wait up to this many seconds for an in-flight execution (default 0)', valueName: 'SECONDS' },
  },
  async run(ctx, { positionals, values }) {
    const api = await ctx.api();
    const waitRaw = stringValue(values.wait);
    const waitMs = waitRaw === undefined ? 0 : Number(waitRaw) * 1000;
    if (!Number.isFinite(waitMs) || waitMs < 0 || waitMs > 300_000) throw usageError('--wait must be 0 to 300 seconds');
    const r = await api.call((t) => t.receipts.get.query({ executionId: positionals[0]!, waitMs: Math.round(waitMs) }));
    const dir = stringValue(values.out);
    if (dir) {
      await mkdir(dir, { recursive: true });
      // receipt.json is the canonical statement: exactly the bytes that were signed.
      await writeOut(join(dir, 'receipt.json'), canonicalJson(r.receipt));
      await writeOut(join(dir, 'bundle.json'), JSON.stringify(r.bundle));
    }
    ctx.out.result(r, () => {
      const p = (r.receipt as { predicate?: { execution?: { id?: string; status?: string }; workflow?: { name?: string; version?: string } } }).predicate;
      ctx.out.line(`${ctx.out.paint('bold', 'receipt')} of execution ${p?.execution?.id ?? positionals[0]} (${ctx.out.status(p?.execution?.status ?? '?')})`);
      ctx.out.line(`  workflow  ${p?.workflow?.name}@${p?.workflow?.version}`);
      ctx.out.line(`  digest    ${r.digest}`);
      ctx.out.line(`  stored    ${r.storedUri}`);
      ctx.out.line(`  verified  ${r.verified ? ctx.out.paint('green', 'yes') : ctx.out.paint('red', 'no')}`);
      if (dir) ctx.out.line(`  saved     ${join(dir, 'receipt.json')}, ${join(dir, 'bundle.json')}  (check offline: mc verify ${join(dir, 'receipt.json')} ${join(dir, 'bundle.json')} --key key.pem)`);
    });
    return 0;
  },
};

export const receiptVerifyCommand: Command = {
  words: ['receipt', 'verify'],
  args: '<executionId>',
  minArgs: 1,
  maxArgs: 1,
  summary: 'have the server re-read and verify a stored receipt now (offline: `mc verify`)',
  options: {},
  async run(ctx, { positionals }) {
    const api = await ctx.api();
    const r = await api.call((t) => t.receipts.verify.mutate({ executionId: positionals[0]! }));
    ctx.out.result(r, () => {
      if (r.verified) ctx.out.success(`receipt of ${r.executionId} verifies (${r.digest}, key ${r.keyId.slice(0, 16)}…)`);
      else ctx.out.line(`${ctx.out.paint('red', '✘ receipt does NOT verify')}: ${r.reason}`);
    });
    return r.verified ? exitCodes.ok : exitCodes.failed;
  },
};

export const discloseCommand: Command = {
  words: ['disclose'],
  args: '<executionId>',
  minArgs: 1,
  maxArgs: 1,
  summary: 'download an execution\'s disclosure pack (spec §14): receipt, SBOM, policy, logs, signed manifest',
  options: { out: { type: 'string', short: 'o', description: 'where to write the pack (default disclosure-<id>.tgz)', valueName: 'FILE' } },
  async run(ctx, { positionals, values }) {
    const id = positionals[0]!;
    const api = await ctx.api();
    const { bytes } = await api.getBytes(`/api/executions/${encodeURIComponent(id)}/disclosure.tgz`);
    const path = stringValue(values.out) ?? `disclosure-${id}.tgz`;
    await writeOut(path, bytes);
    ctx.out.result({ ok: true, executionId: id, path, bytes: bytes.length }, () => {
      ctx.out.success(`wrote ${path} (${bytes.length} bytes)`);
      ctx.out.note(`check it offline: mc verify ${path} --key key.pem   (get the key once: mc keys -o key.pem)`);
    });
    return 0;
  },
};

export const keysCommand: Command = {
  words: ['keys'],
  args: '',
  minArgs: 0,
  maxArgs: 0,
  summary: 'show the server\'s receipt signing public keys; -o writes them as PEM for `mc verify --key`',
  options: { out: { type: 'string', short: 'o', description: 'write the public key(s) as PEM to this file', valueName: 'FILE' } },
  async run(ctx, { values }) {
    const api = await ctx.api();
    const r = await api.call((t) => t.receipts.keys.query());
    const path = stringValue(values.out);
    if (path) await writeOut(path, r.keys.map((k) => k.publicKeyPem.trimEnd()).join('\n') + '\n');
    ctx.out.result(r, () => {
      for (const k of r.keys) {
        ctx.out.line(`${ctx.out.paint('bold', k.keyId)}  ${k.algorithm}`);
        if (!path) ctx.out.line(k.publicKeyPem.trimEnd());
      }
      if (path) ctx.out.success(`wrote ${r.keys.length} public key(s) to ${path}`);
    });
    return 0;
  },
};
