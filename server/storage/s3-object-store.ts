import { createHash } from 'node:crypto';
import {
  BucketLocationConstraint,
  CreateBucketCommand,
  DeleteObjectCommand,
  GetBucketTaggingCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  PutBucketTaggingCommand,
  PutObjectCommand,
  S3Client,
  type PutObjectCommandInput,
  type Tag,
} from '@aws-sdk/client-s3';
import { AppError, isAppError } from '@mc/shared/errors';
import { refuseIfRetained, toBytes, type ObjectStore, type PutOnceOptions, type PutOnceResult } from './object-store';

export interface S3ObjectStoreOptions {
  endpoint: string;
  /** The AWS/MinIO region of the endpoint (signing, LocationConstraint) — not MC's residency region. */
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  forcePathStyle: boolean;
  /** SDK attempts per call (default 3). */
  maxAttempts?: number;
  /** How long `ping` waits for an answer (default 2000 ms): /readyz must answer quickly. */
  pingTimeoutMs?: number;
  /** pino-compatible; told when a server refuses Object Lock. */
  logger?: { warn(obj: object, msg: string): void };
}

/** Written on every retained put: s3rver (and any server without Object Lock) ignores the lock headers. */
const retainMetaKey = 'mc-retain-until';

/**
 * Write-once object store on S3 / MinIO.
 *
 * Write-once on real S3 and MinIO comes from `IfNoneMatch: '*'` (a conditional create, atomic
 * on the server: 412 or 409 when the key exists) plus Object Lock COMPLIANCE retention.
 * s3rver ignores both, so a HeadObject is done first as well: it makes a sequential second put
 * a no-op everywhere, but only the header makes concurrent puts race-free. Verify on MinIO
 * (dev/docker-compose); it cannot be proven against s3rver.
 */
export class S3ObjectStore implements ObjectStore {
  readonly kind = 's3' as const;
  /** Exposed for tests (request-recording middleware) and future multipart uploads. */
  readonly client: S3Client;
  private readonly endpointRegion: string;
  private readonly pingTimeoutMs: number;
  private readonly logger: S3ObjectStoreOptions['logger'];
  /** Buckets this process created without Object Lock because the server refused it. */
  private readonly unlockedBuckets = new Set<string>();

  constructor(opts: S3ObjectStoreOptions) {
    this.client = new S3Client({
      endpoint: opts.endpoint,
      region: opts.region,
      credentials: { accessKeyId: opts.accessKeyId, secretAccessKey: opts.secretAccessKey },
      forcePathStyle: opts.forcePathStyle,
      maxAttempts: opts.maxAttempts ?? 3,
      // The SDK's default flexible checksums make s3rver store streamed bodies with their
      // chunk framing (STACK-NOTES "S3 test server"); Object Lock puts carry Content-MD5 instead.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: { connectionTimeout: 3_000, requestTimeout: 30_000 },
    });
    this.endpointRegion = opts.region;
    this.pingTimeoutMs = opts.pingTimeoutMs ?? 2_000;
    this.logger = opts.logger;
  }

  /** false only when this process created the bucket and the server refused Object Lock. */
  objectLockExpected(bucket: string): boolean {
    return !this.unlockedBuckets.has(bucket);
  }

  uriOf(bucket: string, key: string): string {
    return `s3://${bucket}/${key}`;
  }

  async ensureBucket(bucket: string, opts: { region: string }): Promise<void> {
    if (!(await this.bucketExists(bucket))) await this.createBucket(bucket);
    await this.tagRegion(bucket, opts.region);
  }

  async putObjectOnce(bucket: string, key: string, body: Uint8Array | string, opts: PutOnceOptions): Promise<PutOnceResult> {
    const uri = this.uriOf(bucket, key);
    // Guard for servers that ignore IfNoneMatch (s3rver): without it a second put would overwrite.
    if (await this.head(bucket, key)) return { uri, created: false };

    const bytes = toBytes(body);
    const input: PutObjectCommandInput = {
      Bucket: bucket,
      Key: key,
      Body: bytes,
      ContentLength: bytes.byteLength,
      ContentType: opts.contentType,
      IfNoneMatch: '*',
    };
    if (opts.retainUntil) {
      input.Metadata = { [retainMetaKey]: opts.retainUntil.toISOString() };
      if (this.objectLockExpected(bucket)) {
        input.ObjectLockMode = 'COMPLIANCE';
        input.ObjectLockRetainUntilDate = opts.retainUntil;
        // S3 refuses Object Lock puts without an integrity header.
        input.ContentMD5 = createHash('md5').update(bytes).digest('base64');
      }
    }
    try {
      await this.client.send(new PutObjectCommand(input));
      return { uri, created: true };
    } catch (e) {
      // 412 PreconditionFailed: the key exists. 409 ConditionalRequestConflict: a concurrent
      // conditional put to the same key is in flight; one of the two wins, and it is not us.
      const status = s3Status(e);
      if (status === 412 || status === 409) return { uri, created: false };
      throw toStoreError(e, `put ${uri}`);
    }
  }

  async getObject(bucket: string, key: string): Promise<Uint8Array | null> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      if (!out.Body) return new Uint8Array();
      return await out.Body.transformToByteArray();
    } catch (e) {
      if (s3ErrorName(e) === 'NoSuchKey') return null;
      throw toStoreError(e, `get s3://${bucket}/${key}`);
    }
  }

  async deleteObject(bucket: string, key: string): Promise<void> {
    const head = await this.head(bucket, key);
    if (!head) return;
    // On a versioned (Object Lock) bucket S3 would accept this delete and only add a delete
    // marker, hiding the receipt; refusing here keeps the contract the same on every server.
    refuseIfRetained(bucket, key, latest(head.ObjectLockRetainUntilDate, parseDate(head.Metadata?.[retainMetaKey])));
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    } catch (e) {
      throw toStoreError(e, `delete s3://${bucket}/${key}`);
    }
  }

  async ping(): Promise<void> {
    try {
      await this.client.send(new ListBucketsCommand({}), { abortSignal: AbortSignal.timeout(this.pingTimeoutMs) });
    } catch (e) {
      const err = toStoreError(e, 'ping');
      // Any failure means "not ready"; a 4xx (bad credentials) is still reported as unavailable.
      throw err.code === 'UNAVAILABLE' ? err : new AppError('UNAVAILABLE', err.message, { cause: e, retryAfterSeconds: 1 });
    }
  }

  private async head(bucket: string, key: string) {
    try {
      return await this.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    } catch (e) {
      // HEAD has no body, so a missing key and a missing bucket are both a bare 404 "NotFound";
      // a missing bucket then surfaces on the put/get that follows.
      if (s3Status(e) === 404) return undefined;
      throw toStoreError(e, `head s3://${bucket}/${key}`);
    }
  }

  private async bucketExists(bucket: string): Promise<boolean> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: bucket }));
      return true;
    } catch (e) {
      if (s3Status(e) === 404) return false;
      throw toStoreError(e, `head bucket ${bucket}`);
    }
  }

  private async createBucket(bucket: string): Promise<void> {
    const location = locationFor(this.endpointRegion);
    try {
      await this.client.send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: true, ...location }));
      return;
    } catch (e) {
      if (await this.createdMeanwhile(e, bucket)) return;
      const status = s3Status(e);
      if (status !== 400 && status !== 501) throw toStoreError(e, `create bucket ${bucket}`);
      // The server refused Object Lock: create the bucket without it rather than not at all.
      // Retention then rests on the metadata copy, which deleteObject also honours.
      this.unlockedBuckets.add(bucket);
      this.logger?.warn({ bucket, err: s3ErrorName(e) }, 'object store refused Object Lock; bucket created without it');
    }
    try {
      await this.client.send(new CreateBucketCommand({ Bucket: bucket, ...location }));
    } catch (e) {
      if (!(await this.createdMeanwhile(e, bucket))) throw toStoreError(e, `create bucket ${bucket}`);
    }
  }

  /**
   * A create conflict is fine when another process just made the bucket for us; real S3 says
   * BucketAlreadyExists when someone *else* owns the name, so ask HeadBucket which it is.
   */
  private async createdMeanwhile(e: unknown, bucket: string): Promise<boolean> {
    const name = s3ErrorName(e);
    if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') return false;
    return this.bucketExists(bucket);
  }

  /** Residency auditing (engineering kit §3): the bucket carries `region=<region>`. */
  private async tagRegion(bucket: string, region: string): Promise<void> {
    let tags: Tag[] = [];
    try {
      tags = (await this.client.send(new GetBucketTaggingCommand({ Bucket: bucket }))).TagSet ?? [];
    } catch (e) {
      if (s3ErrorName(e) === 'NotImplemented') return; // s3rver: no tagging at all
      if (s3ErrorName(e) !== 'NoSuchTagSet') throw toStoreError(e, `get tags of ${bucket}`);
    }
    const existing = tags.find((t) => t.Key === 'region')?.Value;
    if (existing === region) return;
    if (existing !== undefined) {
      throw new AppError('CONFLICT', `bucket ${bucket} is tagged for region ${existing}, not ${region}`, {
        details: { bucket, region, existingRegion: existing },
      });
    }
    try {
      // PutBucketTagging replaces the whole set, so keep the tags someone else put there.
      await this.client.send(new PutBucketTaggingCommand({ Bucket: bucket, Tagging: { TagSet: [...tags, { Key: 'region', Value: region }] } }));
    } catch (e) {
      if (s3ErrorName(e) !== 'NotImplemented') throw toStoreError(e, `tag ${bucket}`);
    }
  }
}

const knownLocations: readonly string[] = Object.values(BucketLocationConstraint);

function locationFor(region: string): { CreateBucketConfiguration?: { LocationConstraint: BucketLocationConstraint } } {
  // us-east-1 is the one region where S3 rejects an explicit LocationConstraint; MinIO and
  // other servers with custom region names take the server's own when it is omitted.
  if (region === 'us-east-1' || !isLocation(region)) return {};
  return { CreateBucketConfiguration: { LocationConstraint: region } };
}

function isLocation(region: string): region is BucketLocationConstraint {
  return knownLocations.includes(region);
}

/** The HTTP status of an S3 service error; undefined for network failures (no response). */
function s3Status(e: unknown): number | undefined {
  if (typeof e !== 'object' || e === null || !('$metadata' in e)) return undefined;
  const meta = e.$metadata;
  if (typeof meta !== 'object' || meta === null || !('httpStatusCode' in meta)) return undefined;
  return typeof meta.httpStatusCode === 'number' ? meta.httpStatusCode : undefined;
}

function s3ErrorName(e: unknown): string | undefined {
  return e instanceof Error ? e.name : undefined;
}

/**
 * One mapping from SDK failures to MC's error set: no answer or a 5xx is UNAVAILABLE (the
 * store is down or overloaded, retry later); a missing bucket is NOT_FOUND; any other answer
 * is a misconfiguration of ours (credentials, bucket setup), INTERNAL.
 */
function toStoreError(e: unknown, what: string): AppError {
  if (isAppError(e)) return e;
  const status = s3Status(e);
  const reason = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  if (status === undefined || status >= 500) {
    return new AppError('UNAVAILABLE', `object store unavailable (${what}): ${reason}`, { cause: e, retryAfterSeconds: 1 });
  }
  if (s3ErrorName(e) === 'NoSuchBucket') {
    return new AppError('NOT_FOUND', `object store ${what}: bucket does not exist (ensureBucket first)`, { cause: e });
  }
  return new AppError('INTERNAL', `object store ${what} failed with HTTP ${status}: ${reason}`, { cause: e });
}

function parseDate(value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const d = new Date(value);
  // Unparseable retention must not read as "no retention": treat it as forever.
  return Number.isNaN(d.getTime()) ? new Date(8.64e15) : d;
}

function latest(a: Date | undefined, b: Date | undefined): Date | undefined {
  if (!a) return b;
  if (!b) return a;
  return a.getTime() >= b.getTime() ? a : b;
}
