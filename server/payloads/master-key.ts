import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ConfigError } from '@mc/shared/config';

/**
 * The master key that wraps every execution's data key (docs/data/MC_DATA_LIFECYCLE.md,
 * "Cryptographic erase"). The one place MC reads key material for payloads: `MC_MASTER_KEY`
 * (base64 of 32 bytes, e.g. from a secret manager) wins; otherwise a key file under .mc/keys/ is
 * read, or created on first start exactly like the receipt signing key.
 */
export interface MasterKey {
  /** 32 bytes, AES-256. */
  readonly key: Buffer;
  /** sha256 of the key, first 16 hex: recorded beside every wrapped data key so a rotation can tell keys apart. */
  readonly keyId: string;
}

export function masterKeyFromBase64(text: string, source: string): MasterKey {
  const key = Buffer.from(text.trim(), 'base64');
  if (key.length !== 32) throw new ConfigError(`invalid configuration:\n  ${source}: must be the base64 of exactly 32 bytes (got ${key.length})`);
  return { key, keyId: createHash('sha256').update(key).digest('hex').slice(0, 16) };
}

export async function loadOrCreateMasterKey(opts: { base64?: string | undefined; path: string }): Promise<MasterKey> {
  if (opts.base64) return masterKeyFromBase64(opts.base64, 'MC_MASTER_KEY');
  try {
    return masterKeyFromBase64(await readFile(opts.path, 'utf8'), opts.path);
  } catch (e) {
    if (!isNodeError(e, 'ENOENT')) throw e;
  }
  await mkdir(dirname(opts.path), { recursive: true, mode: 0o700 });
  // Written whole to a private temp file, then linked into place: racing processes (server and
  // worker starting together) agree on one key, and none reads a half-written file.
  const temp = `${opts.path}.${process.pid}.${randomUUID()}.tmp`;
  await writeFile(temp, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  try {
    await link(temp, opts.path);
  } catch (e) {
    if (!isNodeError(e, 'EEXIST')) throw e;
  } finally {
    await unlink(temp);
  }
  return masterKeyFromBase64(await readFile(opts.path, 'utf8'), opts.path);
}

function isNodeError(e: unknown, code: string): boolean {
  return typeof e === 'object' && e !== null && 'code' in e && e.code === code;
}
