import { describe, expect, it } from 'bun:test';
import fc from 'fast-check';
import { piiKindsIn } from '@mc/shared/pii-detection';
import { CIRCULAR, isSecretKey, MAX_REDACTION_DEPTH, REDACTED, redact, redactText, TRUNCATED } from '@mc/shared/redaction';
import { nest, pathArb, piiArb, textWithPiiArb, wordsArb } from '../support/pii-arbitraries.ts';

const hostileAnything = fc.anything({
  withBigInt: true,
  withDate: true,
  withTypedArray: true,
  withNullPrototype: true,
  withMap: true,
  withSet: true,
  withSparseArray: true,
  withBoxedValues: true,
  withObjectString: true,
});

describe('isSecretKey', () => {
  const secret = ['password', 'userPassword', 'passwd', 'secret', 'client_secret', 'token', 'accessToken', 'apiKey', 'api_key', 'X-Api-Key', 'authorization', 'Authorization', 'cookie', 'set-cookie', 'ssn', 'SSN', 'ssn_last4', 'customerSsn', 'private_key', 'privateKey', 'credential', 'credentials', 'sessionId', 'aws_access_key_id', 'pwd'];
  const plain = ['name', 'email', 'region', 'lessons', 'business', 'assessment', 'author', 'keyboard', 'id', 'inputs'];
  for (const key of secret) it(`treats "${key}" as secret`, () => expect(isSecretKey(key)).toBe(true));
  for (const key of plain) it(`treats "${key}" as plain`, () => expect(isSecretKey(key)).toBe(false));
});

describe('redact', () => {
  it('replaces whole values under secret keys, at any depth and of any type', () => {
    const input = { user: 'bob', auth: { password: 'hunter2', apiKey: { id: 1, value: 'k' }, tokens: ['a', 'b'] }, list: [{ ssn: 123456789 }] };
    expect(redact(input)).toEqual({ user: 'bob', auth: { password: REDACTED, apiKey: REDACTED, tokens: REDACTED }, list: [{ ssn: REDACTED }] });
  });

  it('replaces PII inside strings and keys with a marker of its kind', () => {
    expect(redact({ note: 'card 4111 1111 1111 1111, mail jane@example.com', 'bob@example.com': 'owner' })).toEqual({
      note: 'card [REDACTED:card], mail [REDACTED:email]',
      '[REDACTED:email]': 'owner',
    });
  });

  it('numbers keys that redact to the same text instead of dropping one', () => {
    expect(redact({ 'a@example.com': 1, 'b@example.com': 2 })).toEqual({ '[REDACTED:email]': 1, '[REDACTED:email]~2': 2 });
  });

  it('does not mutate its input', () => {
    const input = { password: 'x', note: 'jane@example.com', nested: { list: ['123-45-6789'] } };
    const before = structuredClone(input);
    redact(input);
    expect(input).toEqual(before);
  });

  it('marks cycles but copies shared references', () => {
    const shared = { v: 1 };
    const cyclic: Record<string, unknown> = { a: shared, b: shared };
    cyclic.self = cyclic;
    expect(redact(cyclic)).toEqual({ a: { v: 1 }, b: { v: 1 }, self: CIRCULAR });
  });

  it('keeps __proto__ keys as own data and pollutes nothing', () => {
    const out = redact(JSON.parse('{"__proto__": {"polluted": "jane@example.com", "password": "x"}}')) as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.getOwnPropertyNames(out)).toEqual(['__proto__']);
    expect(Object.getOwnPropertyDescriptor(out, '__proto__')?.value).toEqual({ polluted: '[REDACTED:email]', password: REDACTED });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('truncates very deep nesting instead of overflowing the stack', () => {
    let deep: unknown = 'bottom';
    for (let i = 0; i < 100_000; i++) deep = { next: deep };
    let out = redact(deep);
    for (let i = 0; i < MAX_REDACTION_DEPTH; i++) out = (out as { next: unknown }).next;
    expect(out).toBe(TRUNCATED);
  });

  it('copies dates, describes binary, keeps bigints unless they are card numbers', () => {
    const date = new Date('2025-09-29T00:00:00Z');
    const out = redact({ date, buf: Buffer.from('jane@example.com'), bytes: new Uint8Array(3), n: 42n, pan: 4111111111111111n }) as Record<string, unknown>;
    expect(out.date).toEqual(date);
    expect(out.date).not.toBe(date);
    expect(out).toMatchObject({ buf: '[BINARY:16 bytes]', bytes: '[BINARY:3 bytes]', n: 42n, pan: '[REDACTED:card]' });
  });

  it('turns errors, maps and sets into plain redacted data', () => {
    const error = Object.assign(new Error('failed for jane@example.com'), { token: 't' });
    const out = redact({ error, map: new Map([['password', 'x'], ['k', '123-45-6789']]), set: new Set(['+14155552671']) }) as Record<string, unknown>;
    expect(out.error).toMatchObject({ name: 'Error', message: 'failed for [REDACTED:email]', token: REDACTED });
    expect(out.map).toEqual({ password: REDACTED, k: '[REDACTED:ssn]' });
    expect(out.set).toEqual(['[REDACTED:phone]']);
  });

  it('survives throwing getters and revoked proxies', () => {
    const getter = Object.defineProperty({}, 'boom', { enumerable: true, get: () => { throw new Error('no'); } });
    expect(redact(getter)).toEqual({ boom: '[UNREADABLE]' });
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    expect(redact({ proxy })).toBe('[UNREADABLE]');
  });
});

describe('redactText', () => {
  it('redacts a log line and leaves the rest', () => {
    expect(redactText('user jane@example.com paid with 4111-1111-1111-1111 from DE89 3704 0044 0532 0130 00 (ssn 123-45-6789, tel +14155552671)')).toBe(
      'user [REDACTED:email] paid with [REDACTED:card] from [REDACTED:iban] (ssn [REDACTED:ssn], tel [REDACTED:phone])',
    );
  });

  it('is fast enough for every log line', () => {
    const lines = Array.from({ length: 20_000 }, (_, i) => `GET /api/executions/${i} 200 in ${i % 97}ms trace=4bf92f3577b34da6a3ce929d0e0e4736`);
    const started = performance.now();
    for (const line of lines) redactText(line);
    const perLineUs = ((performance.now() - started) * 1000) / lines.length;
    expect(perLineUs).toBeLessThan(50);
  });
});

describe('redaction properties', () => {
  it('always redacts generated PII embedded in words at any depth', () => {
    fc.assert(
      fc.property(textWithPiiArb, pathArb, ({ kind, value, text }, path) => {
        const out = JSON.stringify(redact(nest(path, text)));
        expect(out).not.toContain(value);
        // `[REDACTED:<kind>]` where the PII was found in the text, or the key-level `[REDACTED]` when a
        // generated key on the path is itself sensitive (fast-check found `{ ssn: … }`): hidden either way.
        expect(out).toMatch(/\[REDACTED[:\]]/);
        expect(piiKindsIn(out)).toEqual([]);
        expect(kind).toBeTruthy();
      }),
      { numRuns: 500 },
    );
  });

  it('always redacts generated PII used as a key', () => {
    fc.assert(
      fc.property(piiArb, pathArb, ({ value }, path) => {
        expect(JSON.stringify(redact(nest(path, { [value]: 'x' })))).not.toContain(value);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps plain words unchanged', () => {
    // Under a sensitive key (`ssn`, `token`, …) any value is redacted whole, words or not: such paths are not "plain".
    const plainPathArb = pathArb.filter((path) => path.every((segment) => typeof segment === 'number' || !isSecretKey(segment)));
    fc.assert(
      fc.property(wordsArb, plainPathArb, (words, path) => {
        const value = nest(path, words.join(' '));
        expect(redact(value)).toEqual(value);
      }),
      { numRuns: 300 },
    );
  });

  it('leaves nothing detectable in any text, and is idempotent on text', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 200 }), textWithPiiArb.map((t) => t.text)), (text) => {
        const once = redactText(text);
        expect(piiKindsIn(once)).toEqual([]);
        expect(redactText(once)).toBe(once);
      }),
      { numRuns: 1000 },
    );
  });

  it('is idempotent on anything', () => {
    fc.assert(
      fc.property(hostileAnything, (value) => {
        const once = redact(value);
        // fc.stringify, not toEqual: `new Date(NaN)` is never toEqual to itself.
        expect(fc.stringify(redact(once))).toBe(fc.stringify(once));
      }),
      { numRuns: 500 },
    );
  });

  it('never throws', () => {
    fc.assert(
      fc.property(hostileAnything, (value) => {
        redact(value);
      }),
      { numRuns: 1000 },
    );
  });
});
