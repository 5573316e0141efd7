import { replacePii, type PiiKind } from './pii-detection.ts';

/**
 * Redaction (spec §12, made real): what may reach logs, events, receipts and error details.
 * Two rules: a value under a secret-ish key is dropped whole, and PII inside any string (values
 * and keys) is replaced by `[REDACTED:<kind>]`. The output is a fresh copy; the input is never
 * mutated. `redact(redact(x))` equals `redact(x)`.
 */
export const REDACTED = '[REDACTED]';
export const TRUNCATED = '[TRUNCATED]';
export const CIRCULAR = '[CIRCULAR]';
export const UNREADABLE = '[UNREADABLE]';
/** Deeper objects become `[TRUNCATED]`; this also bounds recursion, so no stack overflow. */
export const MAX_REDACTION_DEPTH = 32;

/**
 * Matched against the key lower-cased with separators removed, so `api_key`, `X-Api-Key` and
 * `apiKey` all hit. Over-redaction (`maxTokens`) is the accepted price of catching `csrfToken`.
 */
const secretKeyFragments = [
  'password',
  'passwd',
  'passphrase',
  'secret',
  'token',
  'apikey',
  'authorization',
  'cookie',
  'privatekey',
  'credential',
  'sessionid',
  'accesskey',
];

export function isSecretKey(key: string): boolean {
  const normalized = key.toLowerCase().replace(/[^a-z0-9]/g, '');
  if (secretKeyFragments.some((fragment) => normalized.includes(fragment))) return true;
  if (normalized === 'pwd') return true;
  // `ssn`, `ssn_last4`, `customerSSN`; a substring test would also hit unrelated words.
  return normalized.startsWith('ssn') || normalized.endsWith('ssn');
}

/** Email first: a digit run inside an address's local part then goes with the address. */
const replacementOrder: PiiKind[] = ['email', 'iban', 'card', 'ssn', 'phone'];
const mayHoldPii = /[\d@]/;

/**
 * PII in free text (log lines) replaced by `[REDACTED:<kind>]`. Repeats until nothing changes:
 * a marker's brackets can create a word boundary that exposes a new match. Each changing pass
 * removes at least one digit or `@` (markers have none), so the loop ends.
 */
export function redactText(text: string): string {
  let current = text;
  while (mayHoldPii.test(current)) {
    let next = current;
    for (const kind of replacementOrder) next = replacePii(next, kind, `[REDACTED:${kind}]`);
    if (next === current) break;
    current = next;
  }
  return current;
}

/** A deep, redacted copy of any value; never throws. */
export function redact(value: unknown): unknown {
  try {
    return redactValue(value, 0, new Set());
  } catch {
    // Only exotic objects (revoked proxies) get here; nothing of them is safe to show.
    return UNREADABLE;
  }
}

function redactValue(value: unknown, depth: number, ancestors: Set<object>): unknown {
  switch (typeof value) {
    case 'string':
      return redactText(value);
    case 'bigint': {
      // A card number does fit a bigint; digits-only text is checked like any string.
      const text = value.toString();
      return redactText(text) === text ? value : redactText(text);
    }
    case 'function':
      return '[Function]';
    case 'object':
      return value === null ? null : redactObject(value, depth, ancestors);
    default:
      return value;
  }
}

function redactObject(value: object, depth: number, ancestors: Set<object>): unknown {
  if (value instanceof Date) return new Date(value.getTime());
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return `[BINARY:${value.byteLength} bytes]`;
  if (value instanceof RegExp) return redactText(String(value));
  if (depth >= MAX_REDACTION_DEPTH) return TRUNCATED;
  if (ancestors.has(value)) return CIRCULAR;
  ancestors.add(value);
  try {
    if (Array.isArray(value)) return redactList(value, depth, ancestors);
    if (value instanceof Set) return redactList([...value], depth, ancestors);
    if (value instanceof Map) return redactEntries([...value].map(([k, v]) => [String(k), v]), depth, ancestors);
    if (value instanceof Error) {
      const { name, message, stack } = value;
      const extra = ownEntries(value).filter(([key]) => key !== 'name' && key !== 'message' && key !== 'stack');
      return redactEntries([['name', name], ['message', message], ['stack', stack], ...extra], depth, ancestors);
    }
    return redactEntries(ownEntries(value), depth, ancestors);
  } finally {
    ancestors.delete(value);
  }
}

function redactList(items: readonly unknown[], depth: number, ancestors: Set<object>): unknown[] {
  const out: unknown[] = [];
  for (let i = 0; i < items.length; i++) out.push(redactValue(readSafely(items, i), depth + 1, ancestors));
  return out;
}

function ownEntries(value: object): Array<[string, unknown]> {
  return Object.keys(value).map((key) => [key, readSafely(value, key)]);
}

function readSafely(target: object, key: string | number): unknown {
  try {
    return (target as Record<string | number, unknown>)[key];
  } catch {
    // A throwing getter: say so rather than lose the whole object.
    return UNREADABLE;
  }
}

/**
 * Plain-object output built with defineProperty, so a `__proto__` key stays an own property
 * instead of swapping the copy's prototype (no prototype pollution, nothing silently dropped).
 */
function redactEntries(entries: ReadonlyArray<readonly [string, unknown]>, depth: number, ancestors: Set<object>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, child] of entries) {
    const redactedValue = isSecretKey(key) ? REDACTED : redactValue(child, depth + 1, ancestors);
    Object.defineProperty(out, uniqueKey(out, redactText(key)), {
      value: redactedValue,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

/** Two keys can redact to the same text (two emails); number the later ones. */
function uniqueKey(target: object, key: string): string {
  if (!Object.hasOwn(target, key)) return key;
  let n = 2;
  while (Object.hasOwn(target, `${key}~${n}`)) n++;
  return `${key}~${n}`;
}
