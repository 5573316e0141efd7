import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@mc/shared/config';
import { FsObjectStore } from '@mc/server/storage/fs-object-store';
import type { ObjectStore } from '@mc/server/storage/object-store';
import { receiptBucket } from '@mc/server/storage/object-store';
import { createObjectStore } from '@mc/server/storage/object-store-factory';
import { S3ObjectStore } from '@mc/server/storage/s3-object-store';
import { startS3rver } from '../support/s3-server.ts';

interface StoreUnderTest {
  store: ObjectStore;
  stop(): Promise<void>;
}

async function startFsStore(): Promise<StoreUnderTest> {
  const root = await mkdtemp(join(tmpdir(), 'mc-objects-'));
  return { store: new FsObjectStore(root), stop: () => rm(root, { recursive: true, force: true }) };
}

function s3Store(endpoint: string, extra: { pingTimeoutMs?: number; maxAttempts?: number } = {}): S3ObjectStore {
  // s3rver accepts any credentials that are signed consistently; S3RVER is its documented pair.
  return new S3ObjectStore({ endpoint, region: 'us-east-1', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', forcePathStyle: true, ...extra });
}

async function startS3Store(): Promise<StoreUnderTest> {
  const server = await startS3rver();
  return { store: s3Store(server.endpoint), stop: server.stop };
}

/** A fresh bucket per test, so cases run in any order and never see each other's objects. */
async function freshBucket(store: ObjectStore): Promise<string> {
  const bucket = receiptBucket(`t${randomBytes(5).toString('hex')}`);
  await store.ensureBucket(bucket, { region: 'us' });
  return bucket;
}

const text = (s: string) => new TextEncoder().encode(s);
const sameBytes = (a: Uint8Array | null, b: Uint8Array) => a !== null && Buffer.from(a).equals(Buffer.from(b));
const json = { contentType: 'application/json' };
const octets = { contentType: 'application/octet-stream' };
const inOneHour = () => new Date(Date.now() + 3_600_000);

// One contract, two implementations: whatever the server does with a receipt must not depend
// on which store it was given.
describe.each([
  ['fs', startFsStore],
  ['s3 (s3rver over HTTP)', startS3Store],
] as const)('ObjectStore contract: %s', (_name, start) => {
  let sut: StoreUnderTest;
  beforeAll(async () => {
    sut = await start();
  });
  afterAll(async () => {
    await sut.stop();
  });

  it('ensureBucket is idempotent', async () => {
    const bucket = await freshBucket(sut.store);
    await sut.store.ensureBucket(bucket, { region: 'us' });
    await sut.store.ensureBucket(bucket, { region: 'us' });
    expect((await sut.store.putObjectOnce(bucket, 'r.json', '{}', json)).created).toBe(true);
  });

  it('round-trips text, every byte value, and a 2 MB body exactly', async () => {
    const bucket = await freshBucket(sut.store);
    const allBytes = Uint8Array.from({ length: 512 }, (_, i) => i % 256);
    const big = new Uint8Array(randomBytes(2 * 1024 * 1024));
    await sut.store.putObjectOnce(bucket, 'receipts/a.json', '{"ü":"✓"}', json);
    await sut.store.putObjectOnce(bucket, 'bin/all-bytes', allBytes, octets);
    await sut.store.putObjectOnce(bucket, 'bin/big', big, octets);
    expect(sameBytes(await sut.store.getObject(bucket, 'receipts/a.json'), text('{"ü":"✓"}'))).toBe(true);
    expect(sameBytes(await sut.store.getObject(bucket, 'bin/all-bytes'), allBytes)).toBe(true);
    const gotBig = await sut.store.getObject(bucket, 'bin/big');
    expect(gotBig?.byteLength).toBe(big.byteLength);
    expect(sameBytes(gotBig, big)).toBe(true);
  });

  it('a second put at the same key writes nothing and reports created: false', async () => {
    const bucket = await freshBucket(sut.store);
    const first = await sut.store.putObjectOnce(bucket, 'exec-1/receipt.json', 'original', json);
    const second = await sut.store.putObjectOnce(bucket, 'exec-1/receipt.json', 'forged', json);
    expect(first).toEqual({ uri: second.uri, created: true });
    expect(second.created).toBe(false);
    expect(sameBytes(await sut.store.getObject(bucket, 'exec-1/receipt.json'), text('original'))).toBe(true);
  });

  it('names objects with a URI of its scheme', async () => {
    const bucket = await freshBucket(sut.store);
    const { uri } = await sut.store.putObjectOnce(bucket, 'x/y.json', '{}', json);
    if (sut.store.kind === 's3') expect(uri).toBe(`s3://${bucket}/x/y.json`);
    else expect(uri).toMatch(new RegExp(`^file:///.+/${bucket}/x/y\\.json$`));
  });

  it('returns null for a missing key', async () => {
    const bucket = await freshBucket(sut.store);
    expect(await sut.store.getObject(bucket, 'nope.json')).toBeNull();
  });

  it('refuses puts into a bucket that was never ensured', async () => {
    const missing = receiptBucket(`t${randomBytes(5).toString('hex')}`);
    await expect(sut.store.putObjectOnce(missing, 'a.json', '{}', json)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('refuses to delete an object before its retention ends', async () => {
    const bucket = await freshBucket(sut.store);
    await sut.store.putObjectOnce(bucket, 'kept.json', 'kept', { ...json, retainUntil: inOneHour() });
    await expect(sut.store.deleteObject(bucket, 'kept.json')).rejects.toMatchObject({
      code: 'FORBIDDEN',
      message: expect.stringContaining('retained until'),
    });
    expect(sameBytes(await sut.store.getObject(bucket, 'kept.json'), text('kept'))).toBe(true);
  });

  it('deletes once retention has passed, and objects without retention', async () => {
    const bucket = await freshBucket(sut.store);
    await sut.store.putObjectOnce(bucket, 'old.json', 'old', { ...json, retainUntil: new Date(Date.now() - 1_000) });
    await sut.store.putObjectOnce(bucket, 'free.json', 'free', json);
    await sut.store.deleteObject(bucket, 'old.json');
    await sut.store.deleteObject(bucket, 'free.json');
    await sut.store.deleteObject(bucket, 'never-existed.json');
    expect(await sut.store.getObject(bucket, 'old.json')).toBeNull();
    expect(await sut.store.getObject(bucket, 'free.json')).toBeNull();
  });

  it('answers ping', async () => {
    await sut.store.ping();
  });
});

describe('FsObjectStore', () => {
  let sut: StoreUnderTest;
  let store: FsObjectStore;
  beforeAll(async () => {
    sut = await startFsStore();
    if (!(sut.store instanceof FsObjectStore)) throw new Error('expected the fs store');
    store = sut.store;
  });
  afterAll(async () => {
    await sut.stop();
  });

  it.each([
    ['a parent escape', '../escape'],
    ['a nested parent escape', 'a/../../escape'],
    ['absolute', '/etc/passwd'],
    ['NUL-bearing', 'a\0b'],
    ['empty', ''],
    ['double-slashed', 'a//b'],
    ['dot-segmented', 'a/./b'],
    ['trailing-slashed', 'dir/'],
    ['backslashed', 'a\\b'],
    ['the reserved bucket marker', '.mc-bucket.json'],
    ['a reserved temp name', 'x/.mc-tmp-y'],
    ['over 1024 bytes', 'k'.repeat(1025)],
  ])('refuses a key that is %s', async (_why, key) => {
    const bucket = await freshBucket(store);
    await expect(store.putObjectOnce(bucket, key, 'x', json)).rejects.toMatchObject({ code: 'VALIDATION' });
    await expect(store.getObject(bucket, key)).rejects.toMatchObject({ code: 'VALIDATION' });
    await expect(store.deleteObject(bucket, key)).rejects.toMatchObject({ code: 'VALIDATION' });
  });

  it('writes objects read-only and leaves no temp files behind', async () => {
    const bucket = await freshBucket(store);
    await store.putObjectOnce(bucket, 'd/r.json', '{}', { ...json, retainUntil: inOneHour() });
    await store.putObjectOnce(bucket, 'd/r.json', '{"again":1}', { ...json, retainUntil: inOneHour() });
    expect((await stat(join(store.root, bucket, 'd', 'r.json'))).mode & 0o777).toBe(0o444);
    const names = await readdir(join(store.root, bucket, 'd'));
    expect(names.filter((n) => n.startsWith('.mc-tmp-'))).toEqual([]);
    // One retention record: the loser of the second put removed its own.
    expect(names.filter((n) => n.startsWith('.mc-retention-'))).toHaveLength(1);
  });

  it('lets exactly one of many concurrent puts at a key win', async () => {
    const bucket = await freshBucket(store);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => store.putObjectOnce(bucket, 'race.json', `writer-${i}`, json)),
    );
    const winners = results.map((r, i) => (r.created ? i : -1)).filter((i) => i >= 0);
    expect(winners).toHaveLength(1);
    expect(sameBytes(await store.getObject(bucket, 'race.json'), text(`writer-${winners[0]}`))).toBe(true);
  });

  it('refuses to re-ensure a bucket for a different region', async () => {
    const bucket = await freshBucket(store);
    await expect(store.ensureBucket(bucket, { region: 'eu' })).rejects.toMatchObject({ code: 'CONFLICT' });
  });

  it('reports a key that collides with a directory as a conflict, not as existing', async () => {
    const bucket = await freshBucket(store);
    await store.putObjectOnce(bucket, 'a/b', 'x', json);
    await expect(store.putObjectOnce(bucket, 'a', 'x', json)).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(store.putObjectOnce(bucket, 'a/b/c', 'x', json)).rejects.toMatchObject({ code: 'CONFLICT' });
  });
});

describe('S3ObjectStore', () => {
  let server: Awaited<ReturnType<typeof startS3rver>>;
  beforeAll(async () => {
    server = await startS3rver();
  });
  afterAll(async () => {
    await server.stop();
  });

  it('sends IfNoneMatch and Object Lock headers on a retained put', async () => {
    const store = s3Store(server.endpoint);
    const bucket = await freshBucket(store);
    const seen: RecordedRequest[] = [];
    // Records what goes on the wire; the request still reaches s3rver.
    store.client.middlewareStack.add(
      (next) => async (args) => {
        if (isRecordable(args.request)) seen.push({ method: args.request.method, headers: { ...args.request.headers } });
        return next(args);
      },
      { step: 'finalizeRequest', name: 'recordRequests' },
    );
    const retainUntil = inOneHour();
    const body = 'signed receipt';
    expect((await store.putObjectOnce(bucket, 'r.json', body, { ...json, retainUntil })).created).toBe(true);

    const put = seen.find((r) => r.method === 'PUT');
    expect(put?.headers).toMatchObject({
      'if-none-match': '*',
      'x-amz-object-lock-mode': 'COMPLIANCE',
      'x-amz-object-lock-retain-until-date': retainUntil.toISOString(),
      'content-md5': new Bun.CryptoHasher('md5').update(body).digest('base64'),
      'x-amz-meta-mc-retain-until': retainUntil.toISOString(),
    });
    // The HeadObject guard comes first, for servers that ignore IfNoneMatch.
    expect(seen.map((r) => r.method)).toEqual(['HEAD', 'PUT']);
  });

  it('sends IfNoneMatch but no Object Lock headers on an unretained put', async () => {
    const store = s3Store(server.endpoint);
    const bucket = await freshBucket(store);
    const seen: RecordedRequest[] = [];
    store.client.middlewareStack.add(
      (next) => async (args) => {
        if (isRecordable(args.request)) seen.push({ method: args.request.method, headers: { ...args.request.headers } });
        return next(args);
      },
      { step: 'finalizeRequest', name: 'recordRequests' },
    );
    await store.putObjectOnce(bucket, 'log.txt', 'line', { contentType: 'text/plain' });
    const put = seen.find((r) => r.method === 'PUT');
    expect(put?.headers['if-none-match']).toBe('*');
    expect(put?.headers['x-amz-object-lock-mode']).toBeUndefined();
  });

  it('rejects ping with UNAVAILABLE quickly when nothing listens', async () => {
    const store = s3Store(`http://127.0.0.1:${await closedPort()}`, { pingTimeoutMs: 2_000 });
    const started = performance.now();
    await expect(store.ping()).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(performance.now() - started).toBeLessThan(3_000);
  });

  it('maps an unreachable store to UNAVAILABLE on get', async () => {
    const store = s3Store(`http://127.0.0.1:${await closedPort()}`, { maxAttempts: 1 });
    await expect(store.getObject('mc-us-receipts', 'a.json')).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });
});

describe('createObjectStore', () => {
  const base = {
    S3_ENDPOINT: undefined,
    S3_REGION: 'us-east-1',
    S3_ACCESS_KEY_ID: undefined,
    S3_SECRET_ACCESS_KEY: undefined,
    S3_FORCE_PATH_STYLE: true,
    OBJECT_STORE_DIR: '.mc/objects',
  };

  it('chooses the filesystem store when S3_ENDPOINT is unset', () => {
    expect(createObjectStore(base).kind).toBe('fs');
  });

  it('chooses S3 when S3_ENDPOINT is set', () => {
    const store = createObjectStore({ ...base, S3_ENDPOINT: 'http://127.0.0.1:9000', S3_ACCESS_KEY_ID: 'k', S3_SECRET_ACCESS_KEY: 's' });
    expect(store.kind).toBe('s3');
  });

  it('names the missing credentials when S3_ENDPOINT is set without them', () => {
    expect(() => createObjectStore({ ...base, S3_ENDPOINT: 'http://127.0.0.1:9000' })).toThrow(ConfigError);
    expect(() => createObjectStore({ ...base, S3_ENDPOINT: 'http://127.0.0.1:9000' })).toThrow(/S3_ACCESS_KEY_ID/);
  });
});

describe('receiptBucket', () => {
  it('names the bucket after the residency region', () => {
    expect(receiptBucket('us')).toBe('mc-us-receipts');
  });

  it('refuses a region that cannot make a bucket name', () => {
    expect(() => receiptBucket('US/../x')).toThrow(expect.objectContaining({ code: 'VALIDATION' }));
  });
});

interface RecordedRequest {
  method: string;
  headers: Record<string, string>;
}

function isRecordable(request: unknown): request is RecordedRequest {
  return typeof request === 'object' && request !== null && 'method' in request && 'headers' in request;
}

/** A loopback port that was just free: bind port 0, note it, close. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('expected a TCP address');
  await new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve())));
  return address.port;
}
