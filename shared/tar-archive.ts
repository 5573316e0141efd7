import { gunzipSync, gzipSync } from 'node:zlib';

/**
 * A small, strict POSIX ustar reader and writer for disclosure packs (spec §14). Hand-written
 * rather than taken from a streaming library because the verifier needs the opposite of a
 * forgiving parser: synchronous, bounded in memory, never throwing on hostile input, and refusing
 * anything that is not a plain regular file — links, pax/GNU extension headers, bad header
 * checksums and non-zero padding — so that no byte of the archive can change without notice.
 * `tar -xzf` reads what `writeTarGz` writes.
 */

export interface TarEntry {
  path: string;
  data: Uint8Array;
}

export type TarReadResult = { ok: true; entries: TarEntry[] } | { ok: false; reason: string };

const BLOCK = 512;
/** A pack is a receipt, a few JSON files and the logs of one execution: 256 MiB is far beyond that. */
export const MAX_UNPACKED_BYTES = 256 * 1024 * 1024;
const MAX_ENTRIES = 10_000;
const safePath = /^(?!\/)(?!.*(?:^|\/)\.\.?(?:\/|$))[A-Za-z0-9._/-]{1,99}$/;

const encoder = new TextEncoder();

function writeField(header: Uint8Array, offset: number, length: number, value: string): void {
  const bytes = encoder.encode(value);
  if (bytes.length > length) throw new RangeError(`tar header field too long: ${value}`);
  header.set(bytes, offset);
}

function octal(value: number, length: number): string {
  // length - 1 digits and a NUL, as POSIX writes numeric fields.
  return value.toString(8).padStart(length - 1, '0') + '\0';
}

function headerFor(path: string, size: number, mtimeSeconds: number): Uint8Array {
  if (!safePath.test(path)) throw new RangeError(`unsafe or too long tar path: ${path}`);
  const h = new Uint8Array(BLOCK);
  writeField(h, 0, 100, path);
  writeField(h, 100, 8, octal(0o644, 8));
  writeField(h, 108, 8, octal(0, 8));
  writeField(h, 116, 8, octal(0, 8));
  writeField(h, 124, 12, octal(size, 12));
  writeField(h, 136, 12, octal(Math.max(0, Math.floor(mtimeSeconds)), 12));
  writeField(h, 148, 8, '        ');
  writeField(h, 156, 1, '0');
  writeField(h, 257, 6, 'ustar\0');
  writeField(h, 263, 2, '00');
  writeField(h, 265, 32, 'mc');
  writeField(h, 297, 32, 'mc');
  const sum = h.reduce((a, b) => a + b, 0);
  writeField(h, 148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
  return h;
}

/** A ustar archive of regular files, in the given order. Deterministic for the same input. */
export function writeTar(entries: readonly TarEntry[], mtimeSeconds = 0): Uint8Array {
  const parts: Uint8Array[] = [];
  let total = 0;
  for (const e of entries) {
    const header = headerFor(e.path, e.data.length, mtimeSeconds);
    const padded = Math.ceil(e.data.length / BLOCK) * BLOCK;
    const body = new Uint8Array(padded);
    body.set(e.data);
    parts.push(header, body);
    total += BLOCK + padded;
  }
  // End of archive: two zero blocks.
  const out = new Uint8Array(total + 2 * BLOCK);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function writeTarGz(entries: readonly TarEntry[], mtimeSeconds = 0): Uint8Array<ArrayBuffer> {
  return new Uint8Array(gzipSync(writeTar(entries, mtimeSeconds), { level: 9 }));
}

function readText(block: Uint8Array, offset: number, length: number): string {
  const field = block.subarray(offset, offset + length);
  const nul = field.indexOf(0);
  return new TextDecoder('latin1').decode(nul === -1 ? field : field.subarray(0, nul));
}

function readOctal(block: Uint8Array, offset: number, length: number): number | null {
  const text = readText(block, offset, length).replace(/ +$/, '').replace(/^ +/, '');
  if (!/^[0-7]{1,11}$/.test(text)) return null;
  return parseInt(text, 8);
}

function isZero(bytes: Uint8Array): boolean {
  for (const b of bytes) if (b !== 0) return false;
  return true;
}

/**
 * Reads a ustar archive. Accepts what `writeTar` and GNU/BSD `tar --format=ustar|gnu` write for
 * plain files (directory entries are skipped); anything else is an answer, never an exception.
 */
export function readTar(tar: Uint8Array): TarReadResult {
  const entries: TarEntry[] = [];
  const seen = new Set<string>();
  let at = 0;
  if (tar.length % BLOCK !== 0) return { ok: false, reason: 'archive length is not a multiple of 512 bytes' };
  while (at + BLOCK <= tar.length) {
    const header = tar.subarray(at, at + BLOCK);
    if (isZero(header)) {
      // End of archive: everything after must be zero too (GNU tar pads to a 10 KiB record).
      if (!isZero(tar.subarray(at))) return { ok: false, reason: `non-zero bytes after the end-of-archive marker at offset ${at}` };
      return entries.length === 0 ? { ok: false, reason: 'archive holds no files' } : { ok: true, entries };
    }
    const magic = readText(header, 257, 6);
    if (magic !== 'ustar' && magic !== 'ustar ') return { ok: false, reason: `entry at offset ${at} is not a ustar header` };
    // Exactly "%06o\0 " (POSIX, GNU, libarchive) or "%07o\0": the field is outside its own sum,
    // so a looser parse would let its padding bytes change unnoticed.
    const sumField = new TextDecoder('latin1').decode(header.subarray(148, 156));
    const stored = /^[0-7]{6}\0 $|^[0-7]{7}\0$/.test(sumField) ? parseInt(sumField.slice(0, 7), 8) : null;
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : (header[i] ?? 0);
    if (stored === null || stored !== sum) return { ok: false, reason: `header checksum mismatch at offset ${at}` };
    const prefix = readText(header, 345, 155);
    const name = readText(header, 0, 100);
    const path = prefix ? `${prefix}/${name}` : name;
    const size = readOctal(header, 124, 12);
    if (size === null) return { ok: false, reason: `${path}: unreadable size field` };
    const type = String.fromCharCode(header[156] ?? 0);
    const padded = Math.ceil(size / BLOCK) * BLOCK;
    const start = at + BLOCK;
    if (start + padded > tar.length) return { ok: false, reason: `${path}: truncated (declares ${size} bytes)` };
    if (type === '5') {
      if (size !== 0) return { ok: false, reason: `${path}: directory entry with a size` };
      at = start;
      continue;
    }
    if (type !== '0' && type !== '\0') return { ok: false, reason: `${path}: unsupported tar entry type "${type}" (only regular files are allowed)` };
    if (!safePath.test(path)) return { ok: false, reason: `${JSON.stringify(path)}: unsafe file name` };
    if (seen.has(path)) return { ok: false, reason: `${path}: appears twice in the archive` };
    if (!isZero(tar.subarray(start + size, start + padded))) return { ok: false, reason: `${path}: non-zero padding after the file data` };
    if (entries.length >= MAX_ENTRIES) return { ok: false, reason: 'too many entries' };
    seen.add(path);
    entries.push({ path, data: tar.slice(start, start + size) });
    at = start + padded;
  }
  return { ok: false, reason: 'archive ends without the end-of-archive marker' };
}

/** gunzip (bounded) then `readTar`. Never throws. */
export function readTarGz(bytes: Uint8Array): TarReadResult {
  let tar: Uint8Array;
  try {
    tar = new Uint8Array(gunzipSync(bytes, { maxOutputLength: MAX_UNPACKED_BYTES }));
  } catch (e) {
    return { ok: false, reason: `not a gzip-compressed tar archive (${e instanceof Error ? e.message : String(e)})` };
  }
  return readTar(tar);
}
