import { readFile } from 'node:fs/promises';
import { verifyDisclosurePack, verifyReceiptFiles } from '@mc/shared/disclosure-verification';
import type { ReceiptPublicKey } from '@mc/shared/receipt-verification';
import { exitCodes, usageError } from '../cli-errors.ts';
import { listValue, stringValue, type Command, type Context } from '../context.ts';
import { keysFromFile, loadPinnedKeys, pinKeysFrom, pinnedKeysPath } from '../trusted-keys.ts';

async function trustedKeys(ctx: Context, values: Record<string, string | boolean | string[] | undefined>): Promise<ReceiptPublicKey[]> {
  const files = listValue(values.key);
  const from = stringValue(values['keys-from']);
  const keys: ReceiptPublicKey[] = [];
  for (const f of files) keys.push(...(await keysFromFile(f)));
  if (from) {
    const pinned = await pinKeysFrom(from, ctx.env);
    ctx.out.note(`pinned ${pinned.keys.length} key(s) from ${from} in ${pinned.path}; later verifications need no network`);
    keys.push(...pinned.keys);
  }
  if (files.length === 0 && !from) keys.push(...(await loadPinnedKeys(ctx.env)));
  if (keys.length === 0) {
    throw usageError('no public key to verify against', `pass --key key.pem (from \`mc keys -o key.pem\`), or --keys-from URL once to pin the server's keys in ${pinnedKeysPath(ctx.env)}`);
  }
  return keys;
}

async function readBytes(path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch {
    throw usageError(`cannot read ${path}`);
  }
}

export const verifyCommand: Command = {
  words: ['verify'],
  args: '<pack.tgz | receipt.json bundle.json>',
  minArgs: 1,
  maxArgs: 2,
  summary: 'verify a disclosure pack, or a receipt and its Sigstore bundle, OFFLINE against trusted public keys',
  options: {
    key: { type: 'string', multiple: true, description: 'public key PEM (or /api/keys JSON) to trust; repeatable', valueName: 'FILE' },
    'keys-from': { type: 'string', description: 'fetch the server\'s /api/keys once and pin them (the only network use)', valueName: 'URL' },
  },
  async run(ctx, { positionals, values }) {
    const keys = await trustedKeys(ctx, values);
    const { out } = ctx;
    if (positionals.length === 1) {
      const path = positionals[0]!;
      const r = await verifyDisclosurePack(await readBytes(path), keys);
      if (!r.ok) {
        out.result({ ok: false, file: r.file, reason: r.reason, message: r.message }, () => {
          out.line(`${out.paint('red', '✘ verification FAILED')}: ${path}`);
          out.line(`  ${r.message}`);
        });
        return exitCodes.failed;
      }
      out.result({ ok: true, executionId: r.executionId, receiptDigest: r.receiptDigest, keyId: r.keyId, files: r.files }, () => {
        out.success(`${path}: disclosure pack verified`);
        out.line(`  execution  ${r.executionId} (${out.status(r.statement.predicate.execution.status)})`);
        out.line(`  workflow   ${r.statement.predicate.workflow.name}@${r.statement.predicate.workflow.version}`);
        out.line(`  receipt    ${r.receiptDigest}`);
        out.line(`  signed by  ${r.keyId}`);
        for (const f of r.files) out.line(`  ${out.paint('green', '✔')} ${f.path.padEnd(58)} ${out.paint('gray', f.digest.slice(0, 23))}`);
      });
      return exitCodes.ok;
    }
    const [receiptPath, bundlePath] = positionals as [string, string];
    const r = await verifyReceiptFiles(await readBytes(receiptPath), await readBytes(bundlePath), keys, { receipt: receiptPath, bundle: bundlePath });
    if (!r.ok) {
      out.result({ ok: false, file: r.file, reason: r.reason, message: r.message }, () => {
        out.line(`${out.paint('red', '✘ verification FAILED')}`);
        out.line(`  ${r.message}`);
      });
      return exitCodes.failed;
    }
    out.result({ ok: true, executionId: r.executionId, receiptDigest: r.receiptDigest }, () => {
      out.success(`receipt verified: execution ${r.executionId} (${out.status(r.statement.predicate.execution.status)})`);
      out.line(`  digest ${r.receiptDigest}`);
    });
    return exitCodes.ok;
  },
};
