import { canonicalJson, digestOf } from '@mc/shared/canonical-json';
import type { Queryable } from '../db/client.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { payloadBucket } from '../storage/object-store.ts';
import * as keys from './data-key-repository.ts';
import type { MasterKey } from './master-key.ts';
import { newDataKey, open, seal } from './payload-cipher.ts';

/**
 * The one module that handles execution payloads at rest (execution inputs, task outputs, signal
 * payloads). The repositories call it at their boundaries, through payload-boundary.ts — a seal
 * before a write, an open after a read — so the engine above them only ever sees plaintext values
 * and never changes.
 *
 * - Every payload is AES-256-GCM encrypted with its execution's data key; the data key is stored
 *   wrapped by the master key (`execution_data_keys`). Erasing an execution destroys its wrapped
 *   key: every copy of its payloads (rows, objects, backups) becomes unreadable, and reads return
 *   `{ erased: true }`, to anyone.
 * - A payload whose canonical JSON is larger than `MC_PAYLOAD_INLINE_MAX_BYTES` is stored, still
 *   encrypted, in the object store of the execution's region (`mc-${region}-payloads`), and the row
 *   holds a reference by digest. Job data in Redis never carries payloads (ids only).
 * - Digests (inputs_digest, output_digest) are computed by the callers over plaintext canonical
 *   JSON, as receipts require; encryption does not change them.
 */

/** What a read of an erased execution's payload returns. */
export const erasedPayload: Readonly<{ erased: true }> = Object.freeze({ erased: true as const });

const envelopeTag = '$mcSealed';
const envelopeVersion = 'v1';

/** A payload as stored in a jsonb column. */
export type SealedEnvelope =
  | { [envelopeTag]: typeof envelopeVersion; alg: 'A256GCM'; digest: string; data: string }
  | { [envelopeTag]: typeof envelopeVersion; alg: 'A256GCM'; digest: string; ref: { bucket: string; key: string; bytes: number } };

export interface PayloadOwner {
  executionId: string;
  tenantId: string;
  region: string;
}

export interface PayloadVaultOptions {
  masterKey: MasterKey;
  objectStore: ObjectStore;
  inlineMaxBytes: number;
}

const payloadAad = (executionId: string) => `mc-payload:v1:${executionId}`;
const dataKeyAad = (executionId: string) => `mc-data-key:v1:${executionId}`;
export const payloadObjectKey = (executionId: string, digest: string) => `payloads/${executionId}/${digest.replace(':', '-')}.bin`;

export function isSealedEnvelope(value: unknown): value is SealedEnvelope {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && (value as Record<string, unknown>)[envelopeTag] === envelopeVersion;
}

export class PayloadVault {
  readonly inlineMaxBytes: number;
  private readonly masterKey: MasterKey;
  private readonly objectStore: ObjectStore;
  private readonly ensuredBuckets = new Set<string>();

  constructor(opts: PayloadVaultOptions) {
    this.masterKey = opts.masterKey;
    this.objectStore = opts.objectStore;
    this.inlineMaxBytes = opts.inlineMaxBytes;
  }

  get masterKeyId(): string {
    return this.masterKey.keyId;
  }

  /** A fresh data key for a new execution; `storeDataKey` records it once the execution row exists. */
  newDataKey(): Buffer {
    return newDataKey();
  }

  async storeDataKey(db: Queryable, owner: PayloadOwner, dataKey: Buffer): Promise<void> {
    const wrapped = seal(this.masterKey.key, dataKey, dataKeyAad(owner.executionId)).toString('base64');
    await keys.insertDataKey(db, { executionId: owner.executionId, tenantId: owner.tenantId, region: owner.region, wrappedKey: wrapped, masterKeyId: this.masterKey.keyId });
  }

  /** Seals `value` under the given data key (inline, or in the region's payload bucket when large). */
  async sealWith(owner: Pick<PayloadOwner, 'executionId' | 'region'>, dataKey: Buffer, value: unknown): Promise<SealedEnvelope> {
    const text = canonicalJson(value ?? null);
    const digest = digestOf(value ?? null);
    const blob = seal(dataKey, new TextEncoder().encode(text), payloadAad(owner.executionId));
    if (Buffer.byteLength(text, 'utf8') <= this.inlineMaxBytes) {
      return { [envelopeTag]: envelopeVersion, alg: 'A256GCM', digest, data: blob.toString('base64') };
    }
    const bucket = payloadBucket(owner.region);
    await this.ensureBucket(bucket, owner.region);
    // Keyed by the plaintext digest: a second delivery of the same payload is a no-op (write-once),
    // and whichever copy is kept decrypts to the same value.
    const key = payloadObjectKey(owner.executionId, digest);
    await this.objectStore.putObjectOnce(bucket, key, blob, { contentType: 'application/octet-stream' });
    return { [envelopeTag]: envelopeVersion, alg: 'A256GCM', digest, ref: { bucket, key, bytes: blob.byteLength } };
  }

  /** Seals a payload of an execution whose data key is already stored (task outputs). */
  async seal(db: Queryable, executionId: string, value: unknown): Promise<SealedEnvelope> {
    return this.sealUnder(executionId, await keys.findDataKey(db, executionId), value);
  }

  /** `seal` with the execution's key row already read (the worker reads it alongside the step it claims). */
  async sealUnder(executionId: string, row: keys.DataKeyRow | null, value: unknown): Promise<SealedEnvelope> {
    if (!row) throw new Error(`execution ${executionId} has no data key; its payloads cannot be stored`);
    const dataKey = this.unwrap(row);
    if (!dataKey) throw new Error(`execution ${executionId} was erased; no payload may be stored for it`);
    return this.sealWith({ executionId, region: row.region }, dataKey, value);
  }

  /** The plaintext value of a stored payload, or `{ erased: true }` once its execution was erased. Unsealed (legacy) values pass through. */
  async open(db: Queryable, executionId: string, stored: unknown): Promise<unknown> {
    if (!isSealedEnvelope(stored)) return stored;
    return this.openUnder(executionId, await keys.findDataKey(db, executionId), stored);
  }

  /** `open` with the execution's key row already read. */
  async openUnder(executionId: string, row: keys.DataKeyRow | null, stored: unknown): Promise<unknown> {
    if (!isSealedEnvelope(stored)) return stored;
    // Data key rows are never deleted (erase only destroys the wrapped key): a missing one is damage, not an erase.
    if (!row) throw new Error(`execution ${executionId} has a sealed payload but no data key row`);
    const dataKey = this.unwrap(row);
    if (!dataKey) return erasedPayload;
    let blob: Uint8Array;
    if ('ref' in stored) {
      const bytes = await this.objectStore.getObject(stored.ref.bucket, stored.ref.key);
      if (!bytes) throw new Error(`payload object ${stored.ref.bucket}/${stored.ref.key} of execution ${executionId} is missing`);
      blob = bytes;
    } else {
      blob = Buffer.from(stored.data, 'base64');
    }
    const value: unknown = JSON.parse(open(dataKey, blob, payloadAad(executionId)).toString('utf8'));
    if (digestOf(value) !== stored.digest) throw new Error(`payload of execution ${executionId} does not match its digest ${stored.digest}`);
    return value;
  }

  private unwrap(row: keys.DataKeyRow): Buffer | null {
    if (row.wrappedKey === null) return null;
    if (row.masterKeyId !== this.masterKey.keyId) {
      throw new Error(`data key of execution ${row.executionId} is wrapped by master key ${row.masterKeyId}, not the configured ${this.masterKey.keyId}`);
    }
    return open(this.masterKey.key, Buffer.from(row.wrappedKey, 'base64'), dataKeyAad(row.executionId));
  }

  private async ensureBucket(bucket: string, region: string): Promise<void> {
    if (this.ensuredBuckets.has(bucket)) return;
    await this.objectStore.ensureBucket(bucket, { region });
    this.ensuredBuckets.add(bucket);
  }
}

/*
 * The repositories take a `Queryable` (the pool or an open transaction), not Deps. A transaction
 * shares its database's drizzle dialect object, so the vault is registered against that object:
 * `payloadVaultFor(tx)` finds the vault of the database the transaction belongs to, and a process
 * holding several databases (tests) keeps each one's vault apart.
 */
const vaults = new WeakMap<object, PayloadVault>();

function dialectOf(db: Queryable): object {
  return (db as unknown as { dialect: object }).dialect;
}

export function attachPayloadVault(db: Queryable, vault: PayloadVault): void {
  vaults.set(dialectOf(db), vault);
}

export function payloadVaultFor(db: Queryable): PayloadVault {
  const vault = vaults.get(dialectOf(db));
  if (!vault) throw new Error('no payload vault is attached to this database (createDeps attaches one); payloads are never stored unencrypted');
  return vault;
}
