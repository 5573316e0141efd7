/**
 * Secret values must never be stored: task outputs, step log lines and error messages pass through
 * a masker built from the values resolved for that step, which replaces every occurrence with
 * `[REDACTED:secret]`. Besides the raw value it masks the spellings a value takes on its way
 * through JSON text (`a\"b`), URLs (`a%2Fb`) and forms (`a+b`); it cannot see a value that was
 * transformed further (base64 in a Basic auth header, a hash, a substring).
 */
export const SECRET_MASK = '[REDACTED:secret]';
const CIRCULAR = '[CIRCULAR]';
/** Joining masks to their neighbours can form a secret again (`]]` after `…]`); after this many rounds the whole string goes. */
const maxRounds = 8;

export interface SecretMasker {
  /** False when there is nothing to mask; `text` and `value` then return their input unchanged. */
  readonly active: boolean;
  text(s: string): string;
  /** A masked deep copy: strings, object keys, and numbers/booleans whose text contains a secret. */
  value(v: unknown): unknown;
}

export function createSecretMasker(secretValues: Iterable<string>): SecretMasker {
  const needles = new Set<string>();
  for (const s of secretValues) {
    if (typeof s !== 'string' || s === '') continue;
    needles.add(s);
    needles.add(JSON.stringify(s).slice(1, -1));
    needles.add(encodeURIComponent(s));
    needles.add(encodeURI(s));
    needles.add(new URLSearchParams({ s }).toString().slice(2));
  }
  needles.delete('');
  const byLength = [...needles].sort((a, b) => b.length - a.length);
  // A needle inside the mask itself would be found again in every mask: it gets one pass, first.
  const insideMask = byLength.filter((n) => SECRET_MASK.includes(n));
  const plain = byLength.filter((n) => !SECRET_MASK.includes(n));

  function text(s: string): string {
    let out = s;
    for (const n of insideMask) if (out.includes(n)) out = out.split(n).join(SECRET_MASK);
    for (let round = 0; round < maxRounds; round++) {
      const found = plain.filter((n) => out.includes(n));
      if (found.length === 0) return out;
      for (const n of found) out = out.split(n).join(SECRET_MASK);
    }
    return plain.some((n) => out.includes(n)) ? SECRET_MASK : out;
  }

  function value(v: unknown, path: Set<object> = new Set()): unknown {
    if (typeof v === 'string') return text(v);
    if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') {
      const t = String(v);
      return text(t) === t ? v : SECRET_MASK;
    }
    if (v === null || typeof v !== 'object') return v;
    if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : text(v.toISOString()); // as JSON would store it
    if (path.has(v)) return CIRCULAR;
    path.add(v);
    try {
      if (Array.isArray(v)) return v.map((x) => value(x, path));
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) {
        let key = text(k);
        // Two keys that mask alike must not overwrite each other.
        for (let i = 2; Object.hasOwn(out, key); i++) key = `${text(k)}#${i}`;
        // Defined, not assigned: a `__proto__` key (JSON.parse makes it an own key) would otherwise
        // set the copy's prototype and vanish from its JSON.
        Object.defineProperty(out, key, { value: value(x, path), enumerable: true, writable: true, configurable: true });
      }
      return out;
    } finally {
      path.delete(v);
    }
  }

  const active = byLength.length > 0;
  return {
    active,
    text: (s) => (active ? text(s) : s),
    value: (v) => (active ? value(v) : v),
  };
}

/** One-off helpers; build a masker once per step when masking many values. */
export function maskSecretsInText(text: string, secretValues: Iterable<string>): string {
  return createSecretMasker(secretValues).text(text);
}

export function maskSecrets(value: unknown, secretValues: Iterable<string>): unknown {
  return createSecretMasker(secretValues).value(value);
}
