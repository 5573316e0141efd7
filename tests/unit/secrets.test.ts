import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expandTemplates, referencedSecrets, TemplateError } from '@mc/shared/templates';
import { createChainSecretProvider } from '@mc/worker/secrets/chain-secret-provider';
import { createEnvSecretProvider } from '@mc/worker/secrets/env-secret-provider';
import { createFileSecretProvider } from '@mc/worker/secrets/file-secret-provider';
import { createSecretProvider } from '@mc/worker/secrets/secret-provider-factory';
import { resolveSecrets, type SecretProvider } from '@mc/worker/secrets/secret-provider';
import { createSecretMasker, maskSecrets, maskSecretsInText, SECRET_MASK } from '@mc/worker/secrets/secret-masking';
import { createVaultSecretProvider } from '@mc/worker/secrets/vault-secret-provider';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mc-secrets-'));
  writeFileSync(join(dir, 'API_TOKEN'), 'from-file\n');
  writeFileSync(join(dir, 'MULTI_LINE'), 'line1\nline2\n\n');
  writeFileSync(join(dir, 'EMPTY'), '');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('templates: secrets', () => {
  const scope = { inputs: { who: 'Ada', sneaky: '${{ secrets.API_TOKEN }}' }, tasks: {}, secrets: { API_TOKEN: 't0k3n', OTHER: 'x' } };

  it('expands secrets from the separate map, whole and inside text', () => {
    expect(expandTemplates({ a: '${{ secrets.API_TOKEN }}', h: { authorization: 'Bearer ${{secrets.API_TOKEN}}' } }, scope)).toEqual({
      a: 't0k3n',
      h: { authorization: 'Bearer t0k3n' },
    });
  });

  it('fails with `secret NAME is not set` when the map lacks it, or there is no map', () => {
    expect(() => expandTemplates('${{ secrets.MISSING }}', scope)).toThrow(new TemplateError('secret MISSING is not set'));
    expect(() => expandTemplates('x ${{ secrets.API_TOKEN }}', { inputs: {}, tasks: {} })).toThrow('secret API_TOKEN is not set');
  });

  it('refuses malformed references and prototype names', () => {
    for (const bad of ['${{ secrets.lower }}', '${{ secrets.A.B }}', '${{ secrets }}', '${{ secrets.__proto__ }}', '${{ secrets.1A }}']) {
      expect(() => expandTemplates(bad, scope)).toThrow(TemplateError);
    }
    expect(() => expandTemplates('${{ secrets.CONSTRUCTOR }}', { inputs: {}, tasks: {}, secrets: {} })).toThrow('secret CONSTRUCTOR is not set');
  });

  it('never expands a reference that arrives inside a value (an input cannot pull a secret out)', () => {
    expect(expandTemplates({ v: '${{ inputs.sneaky }}', t: 'is ${{ inputs.sneaky }}' }, scope)).toEqual({ v: '${{ secrets.API_TOKEN }}', t: 'is ${{ secrets.API_TOKEN }}' });
  });

  it('lists the secrets a `with` refers to', () => {
    expect(referencedSecrets({ a: '${{ secrets.A }}', b: ['x ${{ secrets.B_2 }} ${{ secrets.A }}'], c: '${{ inputs.n }}', d: '${{ secrets.bad }}' }).sort()).toEqual(['A', 'B_2']);
  });
});

describe('secret providers', () => {
  it('env: reads MC_SECRET_<NAME>, empty is unset', async () => {
    const p = createEnvSecretProvider({ MC_SECRET_API_TOKEN: 'from-env', MC_SECRET_BLANK: '', API_TOKEN: 'not-this' });
    expect(await p.get('API_TOKEN')).toBe('from-env');
    expect(await p.get('BLANK')).toBeUndefined();
    expect(await p.get('NOPE')).toBeUndefined();
  });

  it('file: one file per secret, one trailing newline dropped', async () => {
    const p = createFileSecretProvider(dir);
    expect(await p.get('API_TOKEN')).toBe('from-file');
    expect(await p.get('MULTI_LINE')).toBe('line1\nline2\n');
    expect(await p.get('EMPTY')).toBeUndefined();
    expect(await p.get('ABSENT')).toBeUndefined();
    expect(await createFileSecretProvider(join(dir, 'no-such-dir')).get('API_TOKEN')).toBeUndefined();
  });

  it('refuses names that could escape the directory or the prefix', async () => {
    const p = createFileSecretProvider(dir);
    for (const bad of ['../etc/passwd', 'api_token', 'A/B', '', '.HIDDEN']) await expect(p.get(bad)).rejects.toThrow(/not a valid secret name/);
    await expect(createEnvSecretProvider({}).get('lower')).rejects.toThrow(/not a valid secret name/);
  });

  it('chain: the first provider that has it wins (file, then env)', async () => {
    const p = createSecretProvider({ secretsDir: dir, env: { MC_SECRET_API_TOKEN: 'from-env', MC_SECRET_ONLY_ENV: 'e' } });
    expect(await p.get('API_TOKEN')).toBe('from-file');
    expect(await p.get('ONLY_ENV')).toBe('e');
    expect(await p.get('NOWHERE')).toBeUndefined();
  });

  it('chain: a failing provider stops the chain rather than falling through', async () => {
    const broken: SecretProvider = { get: async () => Promise.reject(new Error('backend down')) };
    const p = createChainSecretProvider([broken, createEnvSecretProvider({ MC_SECRET_X: 'fallback' })]);
    await expect(p.get('X')).rejects.toThrow('backend down');
  });

  it('resolveSecrets returns the found ones; expansion then names the missing one', async () => {
    const p = createEnvSecretProvider({ MC_SECRET_A: 'a-value' });
    const secrets = await resolveSecrets(p, referencedSecrets({ x: '${{ secrets.A }}', y: '${{ secrets.B }}' }));
    expect(secrets).toEqual({ A: 'a-value' });
    expect(() => expandTemplates({ y: '${{ secrets.B }}' }, { inputs: {}, tasks: {}, secrets })).toThrow('secret B is not set');
  });
});

describe('vault KV v2 adapter (against a local fake of that one API call)', () => {
  const token = 'vault-test-token';
  const requests: { path: string; token: string | null; namespace: string | null }[] = [];
  let server: ReturnType<typeof Bun.serve>;
  let address: string;
  beforeAll(() => {
    server = Bun.serve({
      hostname: '127.0.0.1',
      port: 0,
      fetch(req) {
        const url = new URL(req.url);
        requests.push({ path: url.pathname, token: req.headers.get('x-vault-token'), namespace: req.headers.get('x-vault-namespace') });
        if (req.headers.get('x-vault-token') !== token) return Response.json({ errors: ['permission denied'] }, { status: 403 });
        if (url.pathname === '/v1/secret/data/mc/prod') {
          return Response.json({ data: { data: { API_TOKEN: 'from-vault', PORT: 5432, NESTED: { a: 1 } }, metadata: { version: 3 } } });
        }
        if (url.pathname === '/v1/secret/data/mc/broken') return new Response('oops', { status: 500 });
        return Response.json({ errors: [] }, { status: 404 });
      },
    });
    address = `http://127.0.0.1:${server.port}`;
  });
  afterAll(() => server.stop(true));

  it('reads a key of the secret at mount/path, once per cache period', async () => {
    requests.length = 0;
    const p = createVaultSecretProvider({ address: `${address}/`, token, mount: 'secret', path: 'mc/prod', namespace: 'team-a' });
    expect(await p.get('API_TOKEN')).toBe('from-vault');
    expect(await p.get('PORT')).toBe('5432');
    expect(await p.get('NESTED')).toBeUndefined();
    expect(await p.get('ABSENT')).toBeUndefined();
    expect(requests).toEqual([{ path: '/v1/secret/data/mc/prod', token, namespace: 'team-a' }]);
  });

  it('treats a missing path as unset, and denial or errors as failures that never show the token', async () => {
    expect(await createVaultSecretProvider({ address, token, mount: 'secret', path: 'mc/none' }).get('API_TOKEN')).toBeUndefined();
    const denied = await createVaultSecretProvider({ address, token: 'wrong-token', mount: 'secret', path: 'mc/prod' }).get('API_TOKEN').catch((e: Error) => e);
    expect(String(denied)).toContain('permission denied');
    expect(String(denied)).not.toContain('wrong-token');
    await expect(createVaultSecretProvider({ address, token, mount: 'secret', path: 'mc/broken' }).get('A')).rejects.toThrow('HTTP 500');
  });
});

describe('secret masking', () => {
  it('masks raw, JSON-escaped and URL-encoded occurrences', () => {
    const secret = 'p@ss "w/rd"';
    const m = createSecretMasker([secret]);
    expect(m.text(`x ${secret} y`)).toBe(`x ${SECRET_MASK} y`);
    expect(m.text(JSON.stringify({ token: secret }))).toBe(`{"token":"${SECRET_MASK}"}`);
    expect(m.text(`https://h/p?k=${encodeURIComponent(secret)}`)).toBe(`https://h/p?k=${SECRET_MASK}`);
    expect(m.value({ [secret]: [1, `a${secret}`], n: 12345 })).toEqual({ [SECRET_MASK]: [1, `a${SECRET_MASK}`], n: 12345 });
    expect(maskSecrets({ pin: 12345 }, ['2345'])).toEqual({ pin: SECRET_MASK });
  });

  it('is the identity when there are no secrets, and skips empty values', () => {
    const v = { a: ['b'] };
    expect(createSecretMasker([]).value(v)).toBe(v);
    expect(maskSecretsInText('abc', [''])).toBe('abc');
  });

  it('does not let a mask and its neighbours form the secret again', () => {
    expect(maskSecretsInText(']]]', [']]'])).not.toMatch(/]]/);
    expect(maskSecretsInText('a:secret]x', [']x'])).toBe(`a:secret${SECRET_MASK}`);
    // A secret that is part of the mask itself still has its real occurrences replaced.
    expect(maskSecretsInText('RED herring', ['RED'])).toBe(`${SECRET_MASK} herring`);
  });

  it('keeps a `__proto__` key as a key, masked inside (seed 364566489 of the property below hit such a key)', () => {
    const masked = maskSecrets(JSON.parse('{"__proto__":[" s3cret "],"a":1}'), ['s3cret']) as Record<string, unknown>;
    expect(Object.getPrototypeOf(masked)).toBe(Object.prototype);
    expect(JSON.stringify(masked)).toBe(`{"__proto__":[" ${SECRET_MASK} "],"a":1}`);
  });

  it('masks a secret embedded anywhere in random JSON (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), secretArb, fc.nat(), fc.nat(), fc.string(), fc.string(), (json, secret, slot, offset, prefix, suffix) => {
        fc.pre(!SECRET_MASK.includes(secret));
        const embedded = embed(json, { secret, slot, offset, prefix, suffix });
        expect(leaks(embedded, secret)).toBe(true);
        expect(leaks(maskSecrets(embedded, [secret, 'other-secret']), secret)).toBe(false);
      }),
      { numRuns: 500 },
    );
  });

  it('leaves no trace of a token-like secret in the stored JSON text (property)', () => {
    const token = fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.split('')), minLength: 8, maxLength: 40 });
    fc.assert(
      fc.property(fc.jsonValue(), token, fc.nat(), fc.nat(), fc.string(), fc.string(), (json, secret, slot, offset, prefix, suffix) => {
        const embedded = embed(json, { secret, slot, offset, prefix, suffix });
        expect(JSON.stringify(maskSecrets(embedded, [secret]))).not.toContain(secret);
      }),
      { numRuns: 300 },
    );
  });
});

const secretArb = fc.oneof(fc.string({ minLength: 1 }), fc.string({ minLength: 1, unit: 'binary' }), fc.string({ minLength: 1, unit: 'grapheme' }));

/** Puts `secret` into one slot of `json`: inside a string, inside a key, or replacing a non-string leaf. */
function embed(json: unknown, e: { secret: string; slot: number; offset: number; prefix: string; suffix: string }): unknown {
  let slots = 0;
  const count = (v: unknown): void => {
    slots++;
    if (Array.isArray(v)) v.forEach(count);
    else if (v && typeof v === 'object') for (const [, x] of Object.entries(v)) (slots++, count(x));
  };
  count(json);
  const target = e.slot % slots;
  let i = 0;
  const insert = (s: string) => {
    const at = e.offset % (s.length + 1);
    return s.slice(0, at) + e.secret + s.slice(at);
  };
  const walk = (v: unknown): unknown => {
    const here = i++ === target;
    if (typeof v === 'string') return here ? insert(v) : v;
    if (Array.isArray(v)) return here ? `${e.prefix}${e.secret}${e.suffix}` : v.map(walk);
    if (v && typeof v === 'object') {
      if (here) return { [insert(e.prefix)]: v };
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) {
        const key = i++ === target ? insert(k) : k;
        // Defined, not assigned: a `__proto__` key must stay a key (assigned, it sets the prototype).
        Object.defineProperty(out, key, { value: walk(x), enumerable: true, writable: true, configurable: true });
      }
      return out;
    }
    return here ? `${e.prefix}${e.secret}${e.suffix}` : v;
  };
  return walk(json);
}

/** Whether any string, key or scalar's text in `v` still contains `secret`. */
function leaks(v: unknown, secret: string): boolean {
  if (typeof v === 'string') return v.includes(secret);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v).includes(secret);
  if (Array.isArray(v)) return v.some((x) => leaks(x, secret));
  if (v && typeof v === 'object') return Object.entries(v).some(([k, x]) => k.includes(secret) || leaks(x, secret));
  return false;
}
