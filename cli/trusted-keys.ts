import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { publicKeyFromPem, type ReceiptPublicKey } from '@mc/shared/receipt-verification';
import { createApiClient } from './api-client.ts';
import { usageError } from './cli-errors.ts';
import { configDir, normaliseServer, writePrivateFile } from './config-store.ts';

/**
 * The public keys `mc verify` trusts. Offline by design: keys come from files (--key) or from
 * the pinned store, which only `--keys-from URL` writes (one fetch of the server's /api/keys, then
 * kept in `<config dir>/trusted-keys.json` for every later verification).
 */

const keysDocSchema = z.object({ keys: z.array(z.object({ keyId: z.string().min(1), publicKeyPem: z.string().min(1) }).loose()).min(1) });
const pinnedSchema = z.object({ keys: z.array(z.object({ keyId: z.string(), publicKeyPem: z.string(), source: z.string(), pinnedAt: z.string() })) });

export function pinnedKeysPath(env: Record<string, string | undefined>): string {
  return join(configDir(env), 'trusted-keys.json');
}

/** Keys from a JSON document shaped like /api/keys; each re-derived from its PEM so a lying keyId cannot slip in. */
function keysFromDoc(doc: unknown, source: string): ReceiptPublicKey[] {
  const parsed = keysDocSchema.safeParse(doc);
  if (!parsed.success) throw usageError(`${source} does not hold {"keys":[{"keyId","publicKeyPem"}]}`);
  return parsed.data.keys.map((k) => {
    const key = pemKey(k.publicKeyPem, source);
    if (key.keyId !== k.keyId) throw usageError(`${source}: key ${k.keyId} does not match its own PEM (computed ${key.keyId})`);
    return key;
  });
}

function pemKey(pem: string, source: string): ReceiptPublicKey {
  try {
    return publicKeyFromPem(pem);
  } catch (e) {
    throw usageError(`${source} is not a usable PEM key (${e instanceof Error ? e.message : String(e)})`, 'pass the server\'s public key: `mc keys -o key.pem`');
  }
}

export async function keysFromFile(path: string): Promise<ReceiptPublicKey[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw usageError(`cannot read key file ${path}`, 'check the path given to --key');
  }
  if (text.trimStart().startsWith('{')) {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      throw usageError(`${path} is neither PEM nor JSON`);
    }
    return keysFromDoc(doc, path);
  }
  // A file may hold several PEM blocks (e.g. during a key rotation).
  const blocks = text.match(/-----BEGIN [A-Z ]+-----[\s\S]+?-----END [A-Z ]+-----/g) ?? [];
  if (blocks.length === 0) throw usageError(`${path} holds no PEM key`, 'get the server\'s public key with `mc keys -o key.pem`');
  return blocks.map((b) => pemKey(b, path));
}

export async function loadPinnedKeys(env: Record<string, string | undefined>): Promise<ReceiptPublicKey[]> {
  let text: string;
  try {
    text = await readFile(pinnedKeysPath(env), 'utf8');
  } catch {
    return [];
  }
  const parsed = pinnedSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw usageError(`${pinnedKeysPath(env)} is damaged`, 'delete it and pin again with --keys-from URL');
  return parsed.data.keys.map((k) => pemKey(k.publicKeyPem, pinnedKeysPath(env)));
}

/** Fetches the server's /api/keys once and adds them to the pinned store. */
export async function pinKeysFrom(url: string, env: Record<string, string | undefined>): Promise<{ keys: ReceiptPublicKey[]; path: string }> {
  const base = normaliseServer(url.replace(/\/api\/keys\/?$/, ''));
  const api = createApiClient({ server: base, token: undefined, profileName: 'keys' }, env);
  const { bytes } = await api.getBytes('/api/keys');
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw usageError(`${base}/api/keys did not return JSON`);
  }
  const keys = keysFromDoc(doc, `${base}/api/keys`);
  const path = pinnedKeysPath(env);
  const existing = await loadPinnedEntries(path);
  const pinnedAt = new Date().toISOString();
  for (const k of keys) if (!existing.some((e) => e.keyId === k.keyId)) existing.push({ ...k, source: `${base}/api/keys`, pinnedAt });
  await writePrivateFile(path, `${JSON.stringify({ keys: existing }, null, 2)}\n`);
  return { keys, path };
}

async function loadPinnedEntries(path: string): Promise<z.infer<typeof pinnedSchema>['keys']> {
  try {
    const parsed = pinnedSchema.safeParse(JSON.parse(await readFile(path, 'utf8')));
    return parsed.success ? parsed.data.keys : [];
  } catch {
    return [];
  }
}
