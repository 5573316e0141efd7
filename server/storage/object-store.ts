import { AppError } from '@mc/shared/errors';

/**
 * Where signed receipts (and later step logs and large payloads) are kept, write-once.
 * Two implementations share this contract and one test suite
 * (`tests/integration/object-store.test.ts`): `fs-object-store.ts` for dev and tests,
 * `s3-object-store.ts` for S3/MinIO. See docs/architecture/object-store.md.
 */

export interface PutOnceOptions {
  contentType: string;
  /** Until then the object cannot be deleted (S3 Object Lock COMPLIANCE; a sidecar on fs). */
  retainUntil?: Date;
}

export interface PutOnceResult {
  uri: string;
  /** false: an object already existed at that key; nothing was written and it is unchanged. */
  created: boolean;
}

export interface ObjectStore {
  readonly kind: 'fs' | 's3';
  /** Create the bucket if absent (S3: with Object Lock enabled where the server supports it, tagged {region}). Idempotent. */
  ensureBucket(bucket: string, opts: { region: string }): Promise<void>;
  /** Throws NOT_FOUND when the bucket does not exist: call `ensureBucket` at start-up. */
  putObjectOnce(bucket: string, key: string, body: Uint8Array | string, opts: PutOnceOptions): Promise<PutOnceResult>;
  /** null when the key is absent; NOT_FOUND when the bucket is. */
  getObject(bucket: string, key: string): Promise<Uint8Array | null>;
  /** Refused (throws AppError code 'FORBIDDEN' with a clear message) while retainUntil is in the future. Absent keys are a no-op, as in S3. */
  deleteObject(bucket: string, key: string): Promise<void>;
  /** For /readyz: resolves when the store answers, rejects otherwise. */
  ping(): Promise<void>;
  /** The URI recorded for an object (`file://…` or `s3://bucket/key`), as `putObjectOnce` returns it. */
  uriOf(bucket: string, key: string): string;
}

// Same rule as MC_DEFAULT_REGION in shared/config.ts, so every region MC accepts yields a
// valid S3 bucket name (3–63 chars, lowercase, digits, hyphens).
const regionPattern = /^[a-z][a-z0-9-]{0,30}$/;

/** Data-residency rule (engineering kit §3): receipts live in `mc-${region}-receipts`. */
export function receiptBucket(region: string): string {
  if (!regionPattern.test(region)) {
    throw new AppError('VALIDATION', `invalid region for a receipt bucket: ${JSON.stringify(region)}`, {
      issues: [{ path: 'region', message: 'must match ^[a-z][a-z0-9-]{0,30}$' }],
    });
  }
  return `mc-${region}-receipts`;
}

/** Data-residency rule for large execution payloads (encrypted): they live in `mc-${region}-payloads`. */
export function payloadBucket(region: string): string {
  return receiptBucket(region).replace(/-receipts$/, '-payloads');
}

/** S3 bucket naming rules (the subset MC needs); the fs store uses them too so a name works in both. */
const bucketPattern = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export function assertBucketName(bucket: string): void {
  if (!bucketPattern.test(bucket) || bucket.includes('..')) {
    throw new AppError('VALIDATION', `invalid bucket name: ${JSON.stringify(bucket)}`, {
      issues: [{ path: 'bucket', message: '3–63 characters: a-z, 0-9, ".", "-"' }],
    });
  }
}

/** The retention that blocks a delete now, if any; shared so both stores word the refusal the same. */
export function refuseIfRetained(bucket: string, key: string, retainUntil: Date | undefined, now = new Date()): void {
  if (retainUntil && retainUntil.getTime() > now.getTime()) {
    throw new AppError('FORBIDDEN', `object ${bucket}/${key} is retained until ${retainUntil.toISOString()} and cannot be deleted before then`, {
      details: { bucket, key, retainUntil: retainUntil.toISOString() },
    });
  }
}

export function toBytes(body: Uint8Array | string): Uint8Array {
  return typeof body === 'string' ? new TextEncoder().encode(body) : body;
}
