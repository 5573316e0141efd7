import { describe, expect, it } from 'bun:test';
import fc from 'fast-check';
import { canonicalJson, digestOf, sha256Hex } from '../../shared/canonical-json.ts';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** The same value with every object's keys in a seed-chosen order (a small LCG picks the order). */
function shuffleKeysDeep(value: Json, seed: number): Json {
  let state = seed >>> 0;
  const next = (bound: number): number => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state % bound;
  };
  const walk = (v: Json): Json => {
    if (Array.isArray(v)) return v.map(walk);
    if (v === null || typeof v !== 'object') return v;
    const entries = Object.entries(v);
    for (let i = entries.length - 1; i > 0; i--) {
      const j = next(i + 1);
      [entries[i], entries[j]] = [entries[j] as [string, Json], entries[i] as [string, Json]];
    }
    // fromEntries, not assignment: a "__proto__" key must stay an own property.
    return Object.fromEntries(entries.map(([k, child]) => [k, walk(child)]));
  };
  return walk(value);
}

const jsonValue = fc.jsonValue() as fc.Arbitrary<Json>;

describe('canonicalJson (RFC 8785)', () => {
  it('sorts keys by UTF-16 code units and writes no whitespace', () => {
    expect(canonicalJson({ b: 1, a: [true, null, 'x'], A: {} })).toBe('{"A":{},"a":[true,null,"x"],"b":1}');
    // U+FB33 sorts after U+1F600 by UTF-16 code unit (0xFB33 > 0xD83D), though before it by code point.
    expect(canonicalJson({ '\ufb33': 1, '\ud83d\ude00': 2 })).toBe('{"\ud83d\ude00":2,"\ufb33":1}');
  });

  it('writes numbers the way ECMAScript prints them', () => {
    expect(canonicalJson([1e21, 0.000001, 1e-7, -0, 100, 1.5])).toBe('[1e+21,0.000001,1e-7,0,100,1.5]');
  });

  it('refuses a value that has no JSON form', () => {
    expect(() => canonicalJson(undefined)).toThrow(TypeError);
  });

  it('is idempotent: canonicalising a parsed canonical form changes nothing', () => {
    fc.assert(
      fc.property(jsonValue, (value) => {
        const once = canonicalJson(value);
        expect(canonicalJson(JSON.parse(once))).toBe(once);
      }),
    );
  });

  it('does not depend on the order keys arrived in', () => {
    fc.assert(
      fc.property(jsonValue, fc.integer(), (value, seed) => {
        expect(canonicalJson(shuffleKeysDeep(value, seed))).toBe(canonicalJson(value));
      }),
    );
  });
});

describe('digestOf', () => {
  it('is sha256 of the canonical form, written sha256:<64 hex>', () => {
    fc.assert(
      fc.property(jsonValue, (value) => {
        const digest = digestOf(value);
        expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
        expect(digest).toBe(`sha256:${sha256Hex(canonicalJson(value))}`);
      }),
    );
  });

  it('is stable across key order and a JSON round trip', () => {
    fc.assert(
      fc.property(jsonValue, fc.integer(), (value, seed) => {
        const digest = digestOf(value);
        expect(digestOf(shuffleKeysDeep(value, seed))).toBe(digest);
        expect(digestOf(JSON.parse(JSON.stringify(value)))).toBe(digest);
      }),
    );
  });

  it('differs whenever the canonical forms differ', () => {
    fc.assert(
      fc.property(jsonValue, jsonValue, (a, b) => {
        fc.pre(canonicalJson(a) !== canonicalJson(b));
        expect(digestOf(a)).not.toBe(digestOf(b));
      }),
    );
  });
});
