/**
 * PII detection (spec §1 "Info Disclosure", §12). One definition used three ways: the PII policy
 * pack (server/policy/packs/pii.ts), log/receipt redaction (shared/redaction.ts), and — by the
 * same pattern text, checked by tests/unit/policy-fixtures.test.ts — policy/rego/pii.rego.
 *
 * The patterns are written in the common subset of JavaScript (no `u`/`i` flags) and Go RE2
 * (which OPA uses): no lookaround, no backreferences, ASCII `\b` and `\d`, bounded repeats. Both
 * engines return the same leftmost-first, non-overlapping candidates, and the checksum filters
 * below are mirrored in Rego, so both PDP backends see the same findings.
 *
 * Trade-offs (see docs/policy/README.md): SSNs need dashes, NANP phones need separators, cards
 * must start 2–6 and pass Luhn, IBANs must be upper case and pass mod-97. Bare digit runs (ids,
 * epoch milliseconds, amounts) are therefore not flagged; an undashed SSN under an `ssn` key is
 * still removed by the secret-key rule in redaction.
 */

export const piiKinds = ['email', 'ssn', 'phone', 'card', 'iban'] as const;
export type PiiKind = (typeof piiKinds)[number];

export interface PiiFinding {
  kind: PiiKind;
  /** Dotted path (`workflow.tasks.0.with.contact`); a key that itself holds PII reads `[REDACTED]`. */
  path: string;
}

/** Pattern sources, verbatim in policy/rego/pii.rego. Length caps keep JS backtracking linear. */
export const piiPatternSources: Record<PiiKind, string> = {
  email: String.raw`[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,24}`,
  ssn: String.raw`\b\d{3}-\d{2}-\d{4}\b`,
  // E.164 without spaces, or NANP with separators: a bare 10-digit run is not a phone here.
  phone: String.raw`\+[1-9]\d{7,14}\b|(?:\+1[ .-]?)?(?:\([2-9]\d{2}\) ?|\b[2-9]\d{2}[ .-])[2-9]\d{2}[ .-]\d{4}\b`,
  // Contiguous 13–19 digits, or the printed 4-4-4-4(-3) and Amex/Diners 4-6-5/4-6-4 groupings.
  card: String.raw`\b(?:[2-6]\d{12,18}|[2-6]\d{3}(?:[ -]\d{4}){3}(?:[ -]\d{3})?|3\d{3}[ -]\d{6}[ -]\d{4,5})\b`,
  iban: String.raw`\b[A-Z]{2}\d{2}(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,4})?)\b`,
};

/** Checks a regex cannot express; a candidate that fails is not PII. */
const validators: Record<PiiKind, (candidate: string) => boolean> = {
  email: () => true,
  phone: () => true,
  ssn: isValidSsn,
  card: (c) => isLuhnValid(c.replace(/[ -]/g, '')),
  iban: isValidIban,
};

/** SSA rules: area never 000, 666 or 9xx; group never 00; serial never 0000. */
export function isValidSsn(candidate: string): boolean {
  const [area = '', group = '', serial = ''] = candidate.split('-');
  return area !== '000' && area !== '666' && !area.startsWith('9') && group !== '00' && serial !== '0000';
}

export function isLuhnValid(digits: string): boolean {
  if (!/^\d{2,}$/.test(digits)) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** ISO 13616: move the first four characters to the end, letters to 10..35, the number mod 97 is 1. */
export function isValidIban(candidate: string): boolean {
  const compact = candidate.replace(/ /g, '');
  if (compact.length < 15 || compact.length > 34 || !/^[A-Z]{2}\d{2}[A-Z0-9]+$/.test(compact)) return false;
  const rearranged = compact.slice(4) + compact.slice(0, 4);
  let remainder = 0;
  for (const ch of rearranged) {
    const value = Number.parseInt(ch, 36);
    // Letters contribute two digits, digits one; fold each into the running remainder.
    remainder = value > 9 ? (remainder * 100 + value) % 97 : (remainder * 10 + value) % 97;
  }
  return remainder === 1;
}

/** Compiled once: redaction runs on every log line. */
const compiled: ReadonlyArray<readonly [PiiKind, RegExp]> = piiKinds.map((kind) => [kind, new RegExp(piiPatternSources[kind], 'g')]);
const hasDigit = /\d/;

/**
 * Replaces each validated candidate of `kind` in `text` (candidates failing their checksum stay).
 * `String.prototype.replace` resets a global regex's position, so sharing the instance is safe.
 */
export function replacePii(text: string, kind: PiiKind, replacement: string): string {
  const entry = compiled.find(([k]) => k === kind);
  if (!entry) return text;
  return text.replace(entry[1], (candidate) => (validators[kind](candidate) ? replacement : candidate));
}

/** The kinds of PII present in one string (cheap pre-checks skip the regexes for most text). */
export function piiKindsIn(text: string): PiiKind[] {
  const mayHaveDigits = hasDigit.test(text);
  const mayHaveEmail = text.includes('@');
  if (!mayHaveDigits && !mayHaveEmail) return [];
  const found: PiiKind[] = [];
  for (const [kind, re] of compiled) {
    if (kind === 'email' ? !mayHaveEmail : !mayHaveDigits) continue;
    for (const m of text.matchAll(re)) {
      if (validators[kind](m[0])) {
        found.push(kind);
        break;
      }
    }
  }
  return found;
}

export function containsPii(text: string): boolean {
  return piiKindsIn(text).length > 0;
}

/** How a path segment is written in findings: keys that are PII are never echoed back. */
export function formatPathSegment(segment: string | number): string {
  if (typeof segment === 'number') return String(segment);
  return containsPii(segment) ? '[REDACTED]' : segment;
}

function ownKeys(target: object): string[] {
  try {
    return Object.keys(target);
  } catch {
    // A proxy whose ownKeys trap throws: nothing readable to scan.
    return [];
  }
}

function readProperty(target: object, key: string): unknown {
  try {
    return (target as Record<string, unknown>)[key];
  } catch {
    // A getter that throws holds no data we can scan; the scan itself must finish.
    return undefined;
  }
}

function isBinary(value: object): boolean {
  return ArrayBuffer.isView(value) || value instanceof ArrayBuffer;
}

/** Paths share their prefixes (a linked list), so deep nesting costs no copying. */
interface PathNode {
  segment: string;
  parent: PathNode | undefined;
}

function pathText(at: PathNode | undefined): string {
  const segments: string[] = [];
  for (let node = at; node !== undefined; node = node.parent) segments.push(node.segment);
  return segments.reverse().join('.');
}

/**
 * Every (kind, path) of PII in string values and object keys at any depth. Iterative with a
 * visited set, so deep nesting cannot overflow the stack and cycles terminate. Numbers are not
 * scanned: a card number cannot survive as a JS number, and the Rego pack does the same.
 */
export function findPii(value: unknown, basePath: ReadonlyArray<string | number> = []): PiiFinding[] {
  const seen = new Set<string>();
  const findings: PiiFinding[] = [];
  const visited = new WeakSet<object>();
  const record = (kinds: PiiKind[], at: PathNode | undefined) => {
    if (kinds.length === 0) return;
    const path = pathText(at);
    for (const kind of kinds) {
      const id = `${kind}@${path}`;
      if (!seen.has(id)) {
        seen.add(id);
        findings.push({ kind, path });
      }
    }
  };
  const base = basePath.reduce<PathNode | undefined>((parent, segment) => ({ segment: formatPathSegment(segment), parent }), undefined);
  const stack: Array<{ value: unknown; at: PathNode | undefined }> = [{ value, at: base }];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const { value: current, at } = item;
    if (typeof current === 'string') {
      record(piiKindsIn(current), at);
      continue;
    }
    if (typeof current !== 'object' || current === null || visited.has(current) || isBinary(current) || current instanceof Date) continue;
    visited.add(current);
    if (Array.isArray(current)) {
      current.forEach((child, i) => stack.push({ value: child, at: { segment: String(i), parent: at } }));
      continue;
    }
    for (const key of ownKeys(current)) {
      const keyKinds = piiKindsIn(key);
      const child: PathNode = { segment: keyKinds.length > 0 ? '[REDACTED]' : key, parent: at };
      record(keyKinds, child);
      stack.push({ value: readProperty(current, key), at: child });
    }
  }
  return findings;
}
