import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * AES-256-GCM, the one cipher of payload storage: a 12-byte random IV, a 16-byte tag, and
 * associated data binding each ciphertext to what it belongs to (an execution), so a ciphertext
 * moved to another row or object does not decrypt. Layout of a sealed blob: iv ‖ tag ‖ ciphertext.
 */
const ivBytes = 12;
const tagBytes = 16;

export function seal(key: Buffer, plaintext: Uint8Array, aad: string): Buffer {
  const iv = randomBytes(ivBytes);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), ct]);
}

/** Throws when the key, the associated data or a byte of the blob is wrong. */
export function open(key: Buffer, blob: Uint8Array, aad: string): Buffer {
  const buf = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  if (buf.length < ivBytes + tagBytes) throw new Error('sealed blob is too short');
  const decipher = createDecipheriv('aes-256-gcm', key, buf.subarray(0, ivBytes));
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(buf.subarray(ivBytes, ivBytes + tagBytes));
  return Buffer.concat([decipher.update(buf.subarray(ivBytes + tagBytes)), decipher.final()]);
}

export const newDataKey = (): Buffer => randomBytes(32);
