import { promises as dns } from 'node:dns';
import { NonRetryableTaskError } from './task-context.ts';

/**
 * The SSRF guard of `pkg:mc/http` (threat model: a manifest author must not reach the cloud
 * metadata endpoint, the cluster's private network or the worker's own loopback services).
 *
 * A URL passes when its scheme is http(s), its host is on the allow-list, and EVERY address the
 * host resolves to is public, or is a private/loopback address that the allow-list names as an
 * IP literal (`127.0.0.1:4000`). Allow-listing a host NAME never lets it resolve to a private
 * address: otherwise whoever controls that name's DNS could point it at 10.x (rebinding). Link-local
 * (169.254/16, fe80::/10, which hold the metadata endpoints), unspecified, multicast, broadcast and
 * reserved ranges are refused even when allow-listed: no task has a reason to call them.
 *
 * The caller must connect to `address` (see `connectUrl`), never re-resolve the name: that pins the
 * connection to what was checked, so a DNS answer that changes between check and connect is moot.
 */

export type Resolver = (host: string) => Promise<string[]>;

export interface OutboundGuardOptions {
  /** `host` or `host:port` entries (`MC_HTTP_ALLOWED_HOSTS`); IPv6 as `[::1]` or `[::1]:8080`. */
  allowedHosts: readonly string[];
  /** Defaults to `dns.promises.lookup(host, { all: true })`; tests inject their own answers. */
  resolve?: Resolver;
}

export interface CheckedTarget {
  /** The URL as requested. */
  url: URL;
  /** The checked address the request must go to. */
  address: string;
  family: 4 | 6;
  /** `url` with its host replaced by `address`: fetch this, so nothing resolves the name again. */
  connectUrl: URL;
  /** `url.host`, to send as the `Host` header. */
  hostHeader: string;
  /** For https to a host name: the SNI name and the name the certificate must be valid for. */
  serverName: string | undefined;
}

export class OutboundRefusedError extends NonRetryableTaskError {
  override name = 'OutboundRefusedError';
}

export const defaultResolver: Resolver = async (host) => (await dns.lookup(host, { all: true, verbatim: true })).map((a) => a.address);

export async function checkOutboundUrl(input: string | URL, opts: OutboundGuardOptions): Promise<CheckedTarget> {
  let url: URL;
  try {
    // WHATWG parsing also canonicalises legacy IPv4 spellings: `2130706433`, `0x7f.1` and `017700000001` all become 127.0.0.1.
    url = new URL(input);
  } catch {
    throw new OutboundRefusedError(`outbound request refused: "${String(input)}" is not a valid URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new OutboundRefusedError(`outbound request refused: only http and https URLs are allowed, not ${url.protocol}`);
  }
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  const allow = opts.allowedHosts.map(parseAllowEntry);
  const literal = parseIp(url.hostname);

  if (literal) {
    // A literal address is classified first: the reason names the range, and nothing is resolved.
    assertAddressAllowed(literal, url.hostname, port, allow);
    if (!hostAllowed(allow, url.hostname, literal, port)) throw notAllowListed(url);
    return target(url, literal);
  }

  // A name off the allow-list is refused before any DNS query is made for it.
  if (!hostAllowed(allow, url.hostname, null, port)) throw notAllowListed(url);
  let answers: string[];
  try {
    answers = await (opts.resolve ?? defaultResolver)(url.hostname);
  } catch (e) {
    // Resolution failures are usually transient: a plain (retryable) error, not a refusal.
    throw new Error(`could not resolve ${url.hostname}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (answers.length === 0) throw new Error(`could not resolve ${url.hostname}: no addresses`);
  const addresses = answers.map((a) => {
    const ip = parseIp(a);
    if (!ip) throw new OutboundRefusedError(`outbound request refused: ${url.hostname} resolved to "${a}", which is not an IP address`);
    return ip;
  });
  // Every answer is checked, not just the one we use: a mixed answer is a rebinding attempt or a misconfiguration.
  for (const ip of addresses) assertAddressAllowed(ip, url.hostname, port, allow);
  return target(url, addresses[0]!);
}

function target(url: URL, ip: ParsedIp): CheckedTarget {
  const connectUrl = new URL(url);
  connectUrl.hostname = ip.family === 6 ? `[${ip.text}]` : ip.text;
  return {
    url,
    address: ip.text,
    family: ip.family,
    connectUrl,
    hostHeader: url.host,
    serverName: url.protocol === 'https:' && !parseIp(url.hostname) ? url.hostname : undefined,
  };
}

function notAllowListed(url: URL): OutboundRefusedError {
  return new OutboundRefusedError(`outbound request refused: host ${url.host} is not in MC_HTTP_ALLOWED_HOSTS`);
}

function assertAddressAllowed(ip: ParsedIp, host: string, port: number, allow: AllowEntry[]): void {
  const range = classifyIp(ip);
  if (!range) return;
  const shown = host === ip.text || host === `[${ip.text}]` ? ip.text : `${host} resolves to ${ip.text}, which`;
  if (!range.exemptable) throw new OutboundRefusedError(`outbound request refused: ${shown} is ${range.label}, never allowed`);
  if (allow.some((e) => e.ip !== null && e.ip.key === ip.key && (e.port === null || e.port === port))) return;
  throw new OutboundRefusedError(
    `outbound request refused: ${shown} is ${range.label}; only an address listed as such in MC_HTTP_ALLOWED_HOSTS may be called`,
  );
}

// ---------------------------------------------------------------------------------------------
// Allow-list entries

interface AllowEntry {
  host: string;
  ip: ParsedIp | null;
  port: number | null;
}

function parseAllowEntry(raw: string): AllowEntry {
  const entry = raw.trim().toLowerCase();
  let host = entry;
  let port: number | null = null;
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(entry);
  if (bracketed) {
    host = bracketed[1]!;
    port = bracketed[2] ? Number(bracketed[2]) : null;
  } else if (entry.split(':').length === 2) {
    const [h, p] = entry.split(':') as [string, string];
    host = h;
    port = /^\d{1,5}$/.test(p) ? Number(p) : -1; // -1 never matches: a malformed port allows nothing
  }
  return { host, ip: parseIp(host), port };
}

function hostAllowed(allow: AllowEntry[], hostname: string, ip: ParsedIp | null, port: number): boolean {
  const name = hostname.toLowerCase();
  return allow.some((e) => (ip ? e.ip !== null && e.ip.key === ip.key : e.ip === null && e.host === name) && (e.port === null || e.port === port));
}

// ---------------------------------------------------------------------------------------------
// IP parsing and classification (no dependency: the rules are short and are the point of this file)

export interface ParsedIp {
  family: 4 | 6;
  /** Canonical text: dotted quad, or the IPv6 as given without brackets or zone. */
  text: string;
  /** IPv4: 4 bytes; IPv6: 8 sixteen-bit groups. */
  parts: number[];
  /** Identity for comparisons (`127.0.0.1` vs `::1` differ; `::1` and `0:0::1` match). */
  key: string;
}

/** Strict forms only (dotted-decimal IPv4, IPv6 with optional brackets/zone): URL parsing has already canonicalised hosts. */
export function parseIp(raw: string): ParsedIp | null {
  let s = raw;
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  const v4 = parseIpv4(s);
  if (v4) return { family: 4, text: v4.join('.'), parts: v4, key: `4:${v4.join('.')}` };
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  const v6 = parseIpv6(s);
  if (v6) return { family: 6, text: s.toLowerCase(), parts: v6, key: `6:${v6.map((g) => g.toString(16)).join(':')}` };
  return null;
}

function parseIpv4(s: string): number[] | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return null;
  const bytes = m.slice(1).map(Number);
  return bytes.every((b) => b <= 255) ? bytes : null;
}

function parseIpv6(s: string): number[] | null {
  if (!/^[0-9a-fA-F:.]+$/.test(s) || !s.includes(':')) return null;
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const groupsOf = (part: string): number[] | null => {
    if (part === '') return [];
    const out: number[] = [];
    const pieces = part.split(':');
    for (let i = 0; i < pieces.length; i++) {
      const p = pieces[i]!;
      if (i === pieces.length - 1 && p.includes('.')) {
        const v4 = parseIpv4(p);
        if (!v4) return null;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(p)) out.push(parseInt(p, 16));
      else return null;
    }
    return out;
  };
  const head = groupsOf(halves[0]!);
  const tail = halves.length === 2 ? groupsOf(halves[1]!) : [];
  if (!head || !tail) return null;
  if (halves.length === 1) return head.length === 8 ? head : null;
  // With an embedded IPv4 at the end of the head (`1.2.3.4::`) the address is malformed.
  if (halves[0]!.includes('.')) return null;
  const missing = 8 - head.length - tail.length;
  if (missing < 1) return null;
  return [...head, ...new Array<number>(missing).fill(0), ...tail];
}

export interface BlockedRange {
  label: string;
  /** Whether an IP-literal allow-list entry may permit it (loopback, private, CGNAT, ULA). */
  exemptable: boolean;
}

type V4Rule = [base: [number, number, number, number], bits: number, label: string, exemptable: boolean];

// Order matters: the first match names the range (a metadata address before its enclosing range).
const v4Rules: V4Rule[] = [
  [[100, 100, 100, 200], 32, 'a cloud metadata endpoint (100.100.100.200)', false],
  [[0, 0, 0, 0], 8, 'in 0.0.0.0/8 (this network)', false],
  [[10, 0, 0, 0], 8, 'private (10.0.0.0/8)', true],
  [[100, 64, 0, 0], 10, 'carrier-grade NAT (100.64.0.0/10)', true],
  [[127, 0, 0, 0], 8, 'loopback (127.0.0.0/8)', true],
  [[169, 254, 0, 0], 16, 'link-local (169.254.0.0/16, where cloud metadata endpoints live)', false],
  [[172, 16, 0, 0], 12, 'private (172.16.0.0/12)', true],
  [[192, 0, 0, 0], 24, 'reserved (192.0.0.0/24, IETF protocol assignments)', false],
  [[192, 0, 2, 0], 24, 'reserved (192.0.2.0/24, documentation)', false],
  [[192, 168, 0, 0], 16, 'private (192.168.0.0/16)', true],
  [[198, 18, 0, 0], 15, 'reserved (198.18.0.0/15, benchmarking)', false],
  [[198, 51, 100, 0], 24, 'reserved (198.51.100.0/24, documentation)', false],
  [[203, 0, 113, 0], 24, 'reserved (203.0.113.0/24, documentation)', false],
  [[224, 0, 0, 0], 4, 'multicast (224.0.0.0/4)', false],
  [[255, 255, 255, 255], 32, 'broadcast (255.255.255.255)', false],
  [[240, 0, 0, 0], 4, 'reserved (240.0.0.0/4)', false],
];

function v4Number(b: number[]): number {
  return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
}

function classifyV4(bytes: number[]): BlockedRange | null {
  const n = v4Number(bytes);
  for (const [base, bits, label, exemptable] of v4Rules) {
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    if ((n & mask) >>> 0 === (v4Number(base) & mask) >>> 0) return { label, exemptable };
  }
  return null;
}

function v6Prefix(g: number[], prefix: number[], bits: number): boolean {
  for (let i = 0; bits > 0; i++, bits -= 16) {
    const mask = bits >= 16 ? 0xffff : (0xffff << (16 - bits)) & 0xffff;
    if ((g[i]! & mask) !== (prefix[i]! & mask)) return false;
  }
  return true;
}

/** The range an address is blocked by, or null for a public address. */
export function classifyIp(ip: ParsedIp): BlockedRange | null {
  if (ip.family === 4) return classifyV4(ip.parts);
  const g = ip.parts;
  const embedded = (hi: number, lo: number) => [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff];
  const via = (what: string, v4: number[]): BlockedRange | null => {
    const r = classifyV4(v4);
    return r ? { label: `${r.label.replace(/^(in |a )/, '')} via ${what}`, exemptable: false } : null;
  };
  if (g.every((x) => x === 0)) return { label: 'the unspecified address (::)', exemptable: false };
  if (g.slice(0, 7).every((x) => x === 0) && g[7] === 1) return { label: 'loopback (::1)', exemptable: true };
  // Addresses that carry an IPv4 address are judged by it (never exempt: list the IPv4 itself instead).
  if (v6Prefix(g, [0, 0, 0, 0, 0, 0xffff], 96)) return via('an IPv4-mapped IPv6 address', embedded(g[6]!, g[7]!));
  if (v6Prefix(g, [0x64, 0xff9b, 0, 0, 0, 0], 96)) return via('NAT64 (64:ff9b::/96)', embedded(g[6]!, g[7]!));
  if (v6Prefix(g, [0x2002], 16)) return via('6to4 (2002::/16)', embedded(g[1]!, g[2]!));
  if (v6Prefix(g, [0, 0, 0, 0, 0, 0], 96)) return { label: 'an IPv4-compatible IPv6 address (::/96, deprecated)', exemptable: false };
  if (v6Prefix(g, [0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x254], 128)) return { label: 'a cloud metadata endpoint (fd00:ec2::254)', exemptable: false };
  if (v6Prefix(g, [0xfe80], 10)) return { label: 'link-local (fe80::/10)', exemptable: false };
  if (v6Prefix(g, [0xfec0], 10)) return { label: 'site-local (fec0::/10, deprecated)', exemptable: false };
  if (v6Prefix(g, [0xfc00], 7)) return { label: 'unique local (fc00::/7)', exemptable: true };
  if (v6Prefix(g, [0xff00], 8)) return { label: 'multicast (ff00::/8)', exemptable: false };
  if (v6Prefix(g, [0x2001, 0x0db8], 32)) return { label: 'reserved (2001:db8::/32, documentation)', exemptable: false };
  if (v6Prefix(g, [0x2001, 0], 32)) return { label: 'Teredo (2001::/32)', exemptable: false };
  if (v6Prefix(g, [0x0064, 0xff9b, 0x0001], 48)) return { label: 'local-use NAT64 (64:ff9b:1::/48)', exemptable: false };
  if (!v6Prefix(g, [0x2000], 3)) return { label: 'outside global unicast (2000::/3)', exemptable: false };
  return null;
}
