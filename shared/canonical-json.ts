import canonicalize from 'canonicalize';
import { createHash } from 'node:crypto';

/**
 * RFC 8785 (JCS) canonical form. Receipts, manifest digests and idempotency keys all hash this
 * form, so the same value always yields the same bytes whatever key order it arrived in.
 */
export function canonicalJson(value: unknown): string {
  const text = canonicalize(value);
  // canonicalize returns undefined for `undefined` and functions: such a value has no JSON form.
  if (text === undefined) throw new TypeError('value has no canonical JSON form');
  return text;
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** `sha256:<hex>` of the canonical JSON of a value. */
export function digestOf(value: unknown): string {
  return `sha256:${sha256Hex(canonicalJson(value))}`;
}
