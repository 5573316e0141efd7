import { describe, expect, it } from 'bun:test';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateMasterKey, masterKeyFromBase64 } from '@mc/server/payloads/master-key';
import { newDataKey, open, seal } from '@mc/server/payloads/payload-cipher';
import { isSealedEnvelope, payloadVaultFor } from '@mc/server/payloads/payload-vault';
import { classifyInputs } from '@mc/server/payloads/payload-boundary';

describe('payload cipher (AES-256-GCM)', () => {
  const key = newDataKey();
  const text = new TextEncoder().encode('{"a":1}');

  it('round-trips and never repeats a ciphertext', () => {
    const a = seal(key, text, 'exec-1');
    expect(new TextDecoder().decode(open(key, a, 'exec-1'))).toBe('{"a":1}');
    expect(seal(key, text, 'exec-1').equals(a)).toBe(false);
  });

  it('refuses a flipped byte, another key, or another execution’s associated data', () => {
    const blob = seal(key, text, 'exec-1');
    const flipped = Buffer.from(blob);
    flipped[flipped.length - 1]! ^= 1;
    expect(() => open(key, flipped, 'exec-1')).toThrow();
    expect(() => open(newDataKey(), blob, 'exec-1')).toThrow();
    expect(() => open(key, blob, 'exec-2')).toThrow();
    expect(() => open(key, blob.subarray(0, 10), 'exec-1')).toThrow('too short');
  });
});

describe('master key', () => {
  it('takes MC_MASTER_KEY as base64 of 32 bytes and names a bad one', () => {
    const k = masterKeyFromBase64(Buffer.alloc(32, 7).toString('base64'), 'MC_MASTER_KEY');
    expect(k.key.length).toBe(32);
    expect(k.keyId).toMatch(/^[0-9a-f]{16}$/);
    expect(() => masterKeyFromBase64('c2hvcnQ=', 'MC_MASTER_KEY')).toThrow('MC_MASTER_KEY');
  });

  it('creates a private key file once, and every racing process gets the same key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mc-mk-'));
    try {
      const path = join(dir, 'keys', 'master.key');
      const keys = await Promise.all(Array.from({ length: 8 }, () => loadOrCreateMasterKey({ path })));
      expect(new Set(keys.map((k) => k.keyId)).size).toBe(1);
      expect(statSync(path).mode & 0o777).toBe(0o600);
      expect(Buffer.from(readFileSync(path, 'utf8').trim(), 'base64').length).toBe(32);
      const fromEnv = await loadOrCreateMasterKey({ path, base64: Buffer.alloc(32, 1).toString('base64') });
      expect(fromEnv.keyId).not.toBe(keys[0]!.keyId);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('payload boundary', () => {
  it('classifies inputs at ingest: PII makes them regulated', () => {
    expect(classifyInputs({ n: 1 })).toBe('sensitive');
    expect(classifyInputs({ contact: 'jane.doe@example.com' })).toBe('regulated');
  });

  it('recognises only its own envelopes', () => {
    expect(isSealedEnvelope({ $mcSealed: 'v1' })).toBe(true);
    expect(isSealedEnvelope({ $mcSealed: 'v2' })).toBe(false);
    expect(isSealedEnvelope([1])).toBe(false);
    expect(isSealedEnvelope(null)).toBe(false);
  });

  it('refuses to store payloads on a database without a vault', () => {
    expect(() => payloadVaultFor({ dialect: {} } as never)).toThrow('no payload vault');
  });
});
