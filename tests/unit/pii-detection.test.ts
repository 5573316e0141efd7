import { describe, expect, it } from 'bun:test';
import fc from 'fast-check';
import { findPii, isLuhnValid, isValidIban, isValidSsn, piiKindsIn, type PiiKind } from '@mc/shared/pii-detection';
import { nest, pathArb, piiArb, textWithPiiArb, wordsArb } from '../support/pii-arbitraries.ts';

describe('piiKindsIn', () => {
  const cases: Array<[string, PiiKind[]]> = [
    ['mail jane.doe+tag@mail.example.co.uk today', ['email']],
    ['ssn 123-45-6789', ['ssn']],
    ['+14155552671', ['phone']],
    ['+44 20 7183 8750', []], // E.164 is written without spaces; spaced international forms are not matched
    ['(415) 555-2671', ['phone']],
    ['415.555.2671', ['phone']],
    ['+1 415 555 2671', ['phone']],
    ['4111 1111 1111 1111', ['card']],
    ['4111-1111-1111-1111', ['card']],
    ['5555555555554444', ['card']],
    ['3782 822463 10005', ['card']],
    ['GB82 WEST 1234 5698 7654 32', ['iban']],
    ['DE89370400440532013000', ['iban']],
  ];
  for (const [text, kinds] of cases) {
    it(`finds ${kinds.join(', ') || 'nothing'} in "${text}"`, () => expect(piiKindsIn(text)).toEqual(kinds));
  }

  const notPii = [
    '000-12-3456', // area 000
    '666-12-3456', // area 666
    '912-34-5678', // area 9xx
    '123-00-4567', // group 00
    '123-45-0000', // serial 0000
    '123456789', // undashed SSNs are left to the `ssn` key rule
    '4111 1111 1111 1112', // Luhn fails
    '1700000000000', // epoch ms: cards start 2–6
    '18446744073709551615', // 20 digits: longer than any card
    '4155552671', // a bare 10-digit run is not taken for a phone
    '(115) 555-2671', // NANP area codes start 2–9
    'DE89370400440532013001', // mod-97 fails
    'de89370400440532013000', // IBANs are upper case
    'version 1.2.3 on 2025-09-29 at 10:30, order #12345, $1,234.56',
    'user@localhost', // no dot-TLD
    '[REDACTED:email] [REDACTED:card]',
  ];
  for (const text of notPii) it(`finds nothing in "${text}"`, () => expect(piiKindsIn(text)).toEqual([]));
});

describe('validators', () => {
  it('apply the SSA rules to SSNs', () => {
    expect(isValidSsn('123-45-6789')).toBe(true);
    expect(isValidSsn('899-99-9999')).toBe(true);
    for (const bad of ['000-45-6789', '666-45-6789', '900-45-6789', '999-45-6789', '123-00-6789', '123-45-0000']) expect(isValidSsn(bad)).toBe(false);
  });

  it('check cards with Luhn', () => {
    expect(isLuhnValid('4111111111111111')).toBe(true);
    expect(isLuhnValid('378282246310005')).toBe(true);
    expect(isLuhnValid('4111111111111112')).toBe(false);
    expect(isLuhnValid('41x1')).toBe(false);
  });

  it('check IBANs with mod-97', () => {
    expect(isValidIban('GB82WEST12345698765432')).toBe(true);
    expect(isValidIban('GB82 WEST 1234 5698 7654 32')).toBe(true);
    expect(isValidIban('GB82WEST12345698765433')).toBe(false);
    expect(isValidIban('GB82WEST123')).toBe(false);
  });
});

describe('findPii', () => {
  it('reports kind and dotted path for values in nested objects and arrays', () => {
    const value = { a: [{ b: 'x' }, { c: 'mail jane@example.com or call +14155552671' }], d: { e: '123-45-6789' } };
    expect(findPii(value)).toEqual(
      expect.arrayContaining([
        { kind: 'email', path: 'a.1.c' },
        { kind: 'phone', path: 'a.1.c' },
        { kind: 'ssn', path: 'd.e' },
      ]),
    );
    expect(findPii(value)).toHaveLength(3);
  });

  it('reports PII in keys without echoing the key', () => {
    expect(findPii({ 'jane@example.com': { note: '123-45-6789' } }, ['inputs'])).toEqual([
      { kind: 'email', path: 'inputs.[REDACTED]' },
      { kind: 'ssn', path: 'inputs.[REDACTED].note' },
    ]);
  });

  it('scans own __proto__ keys and does not follow prototypes', () => {
    expect(findPii(JSON.parse('{"__proto__": {"x": "jane@example.com"}}'))).toEqual([{ kind: 'email', path: '__proto__.x' }]);
    expect(findPii(Object.create({ inherited: 'jane@example.com' }))).toEqual([]);
  });

  it('terminates on cycles and survives nesting far deeper than the stack', () => {
    const cyclic: Record<string, unknown> = { note: 'jane@example.com' };
    cyclic.self = cyclic;
    expect(findPii(cyclic)).toEqual([{ kind: 'email', path: 'note' }]);
    let deep: unknown = '123-45-6789';
    for (let i = 0; i < 200_000; i++) deep = { n: deep };
    expect(findPii(deep)).toHaveLength(1);
  });

  it('ignores numbers, dates and binary', () => {
    expect(findPii({ n: 4111111111111111, d: new Date(), b: Buffer.from('jane@example.com'), u: new Uint8Array(4) })).toEqual([]);
  });

  it('is quick on large text with no PII and on adversarial text', () => {
    const started = performance.now();
    piiKindsIn('lorem ipsum dolor '.repeat(60_000)); // ~1 MB
    piiKindsIn(`${'a'.repeat(200_000)}@`);
    piiKindsIn('1-'.repeat(100_000));
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});

describe('findPii properties', () => {
  it('finds generated PII embedded in words at any depth', () => {
    fc.assert(
      fc.property(textWithPiiArb, pathArb, ({ kind, text }, path) => {
        expect(findPii(nest(path, text))).toContainEqual({ kind, path: path.join('.') });
      }),
      { numRuns: 500 },
    );
  });

  it('finds generated PII used as a key, reporting the key redacted', () => {
    fc.assert(
      fc.property(piiArb, pathArb, ({ kind, value }, path) => {
        const expectedPath = [...path.map(String), '[REDACTED]'].join('.');
        expect(findPii(nest(path, { [value]: true }))).toContainEqual({ kind, path: expectedPath });
      }),
      { numRuns: 300 },
    );
  });

  it('finds nothing in plain words', () => {
    fc.assert(
      fc.property(wordsArb, pathArb, (words, path) => {
        expect(findPii(nest(path, words.join(' ')))).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('never throws', () => {
    fc.assert(
      fc.property(fc.anything({ withBigInt: true, withDate: true, withTypedArray: true, withNullPrototype: true, withMap: true, withSet: true, withSparseArray: true }), (value) => {
        expect(Array.isArray(findPii(value))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});
