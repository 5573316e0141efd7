import fc from 'fast-check';
import { isLuhnValid, type PiiKind } from '@mc/shared/pii-detection';

/**
 * Generators of valid PII of each kind and of text and structures to hide it in, shared by
 * tests/unit/pii-detection.test.ts and tests/unit/redaction.test.ts.
 */
const digits = (min: number, max = min) => fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: min, maxLength: max });
const pad = (n: number, width: number) => String(n).padStart(width, '0');

/** SSNs the SSA could issue: area 001–899 but not 666, group 01–99, serial 0001–9999. */
export const ssnArb = fc
  .tuple(fc.integer({ min: 1, max: 899 }).filter((a) => a !== 666), fc.integer({ min: 1, max: 99 }), fc.integer({ min: 1, max: 9999 }))
  .map(([a, g, s]) => `${pad(a, 3)}-${pad(g, 2)}-${pad(s, 4)}`);

function luhnCheckDigit(body: string): string {
  for (let d = 0; d <= 9; d++) if (isLuhnValid(`${body}${d}`)) return String(d);
  throw new Error('unreachable: one check digit always fits');
}

/** Luhn-valid card numbers starting 2–6: contiguous 13–19 digits, or 16 digits in fours. */
export const cardArb = fc.oneof(
  fc.tuple(fc.constantFrom('2', '3', '4', '5', '6'), fc.integer({ min: 11, max: 17 }).chain((n) => digits(n))).map(([first, rest]) => {
    const body = first + rest;
    return body + luhnCheckDigit(body);
  }),
  fc.tuple(fc.constantFrom('4', '5'), digits(14), fc.constantFrom(' ', '-')).map(([first, rest, sep]) => {
    const pan = first + rest + luhnCheckDigit(first + rest);
    return pan.match(/.{4}/g)?.join(sep) ?? pan;
  }),
);

const lower = (min: number, max: number) => fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz'), minLength: min, maxLength: max });
const localChar = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789._%+-');

export const emailArb = fc
  .tuple(
    fc.string({ unit: localChar, minLength: 1, maxLength: 20 }),
    fc.array(fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-'), minLength: 1, maxLength: 10 }), { minLength: 1, maxLength: 3 }),
    lower(2, 6),
  )
  .map(([local, labels, tld]) => `${local}@${labels.join('.')}.${tld}`);

/** E.164 and NANP forms with separators. */
export const phoneArb = fc.oneof(
  fc.tuple(fc.integer({ min: 1, max: 9 }), digits(7, 14)).map(([first, rest]) => `+${first}${rest}`),
  fc
    .tuple(fc.integer({ min: 200, max: 999 }), fc.integer({ min: 200, max: 999 }), digits(4), fc.constantFrom('(a) b-c', 'a-b-c', 'a.b.c', 'a b c', '+1 a b c', '+1-a-b-c'))
    .map(([area, exchange, line, shape]) => shape.replace('a', String(area)).replace('b', String(exchange)).replace('c', line)),
);

const alnumUpper = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789');

function mod97(text: string): number {
  let remainder = 0;
  for (const ch of text) {
    const v = Number.parseInt(ch, 36);
    remainder = v > 9 ? (remainder * 100 + v) % 97 : (remainder * 10 + v) % 97;
  }
  return remainder;
}

/** IBANs with correct check digits, compact or printed in groups of four. */
export const ibanArb = fc
  .tuple(fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZ'), minLength: 2, maxLength: 2 }), fc.string({ unit: alnumUpper, minLength: 11, maxLength: 30 }), fc.boolean())
  .map(([country, bban, printed]) => {
    const check = pad(98 - mod97(`${bban}${country}00`), 2);
    const compact = `${country}${check}${bban}`;
    return printed ? (compact.match(/.{1,4}/g) ?? [compact]).join(' ') : compact;
  });

export const piiArb: fc.Arbitrary<{ kind: PiiKind; value: string }> = fc.oneof(
  ssnArb.map((value) => ({ kind: 'ssn' as const, value })),
  cardArb.map((value) => ({ kind: 'card' as const, value })),
  emailArb.map((value) => ({ kind: 'email' as const, value })),
  phoneArb.map((value) => ({ kind: 'phone' as const, value })),
  ibanArb.map((value) => ({ kind: 'iban' as const, value })),
);

/** Plain words: letters only, so never PII whatever they are next to. */
export const wordsArb = fc.array(lower(1, 10), { minLength: 0, maxLength: 8 });

/** `words… PII words…`, separated by spaces as prose is. */
export const textWithPiiArb = fc
  .tuple(wordsArb, piiArb, wordsArb)
  .map(([before, pii, after]) => ({ ...pii, text: [...before, pii.value, ...after].join(' ') }));

export type PathSegment = string | number;
export const pathArb = fc.array(fc.oneof(lower(1, 6), fc.integer({ min: 0, max: 3 })), { minLength: 0, maxLength: 6 });

/** Puts `leaf` at `path` inside fresh objects and arrays (array slots before it hold filler). */
export function nest(path: readonly PathSegment[], leaf: unknown): unknown {
  return path.reduceRight<unknown>((inner, segment) => {
    if (typeof segment === 'number') return [...Array.from({ length: segment }, () => 'filler'), inner];
    return { [segment]: inner };
  }, leaf);
}
