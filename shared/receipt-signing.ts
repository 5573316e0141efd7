import { bundleToJSON, type SerializedBundle } from '@sigstore/bundle';
import { DSSEBundleBuilder, type Signer } from '@sigstore/sign';
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID, sign, verify, type KeyObject } from 'node:crypto';
import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { canonicalJson, sha256Hex } from './canonical-json.ts';
import { AppError } from './errors.ts';
import type { ReceiptStatement } from './receipt-statement.ts';

/** DSSE payload type for in-toto statements, as cosign and the in-toto spec use it. */
export const RECEIPT_PAYLOAD_TYPE = 'application/vnd.in-toto+json';

export interface SigningKey {
  /** Hex sha256 of the SPKI DER public key: stable across PEM formatting, and the bundle's key hint. */
  keyId: string;
  publicKeyPem: string;
  privateKey: KeyObject;
}

export interface SignedReceipt {
  /** Sigstore bundle v0.3 (JSON form) holding the DSSE envelope. */
  bundle: SerializedBundle;
  /** Canonical JSON of the statement: exactly the bytes that were signed. */
  payload: string;
  /** `sha256:<hex>` of the payload bytes. */
  digest: string;
  /** Base64 DSSE signature (DER ECDSA over the pre-authentication encoding). */
  signature: string;
}

/** A fresh ECDSA P-256 private key as PKCS8 PEM. P-256, not Ed25519: sigstore verifies it in every bundle form. */
export function generateSigningKeyPem(): string {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

export function signingKeyFromPem(pem: string): SigningKey {
  const privateKey = createPrivateKey(pem);
  if (privateKey.asymmetricKeyType !== 'ec' || privateKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new AppError('INTERNAL', 'the receipt signing key must be an ECDSA P-256 private key');
  }
  const publicKey = createPublicKey(privateKey);
  return {
    keyId: sha256Hex(publicKey.export({ type: 'spki', format: 'der' })),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privateKey,
  };
}

function isNodeError(e: unknown, code: string): boolean {
  return e instanceof Error && 'code' in e && e.code === code;
}

/**
 * Reads the key at `path`, creating it (mode 0600, parent directory 0700) when missing. The
 * create is exclusive ('wx'), so two processes starting at once end up sharing one key instead
 * of the loser overwriting the winner's.
 */
export async function loadOrCreateSigningKey(path: string): Promise<SigningKey> {
  try {
    return signingKeyFromPem(await readFile(path, 'utf8'));
  } catch (e) {
    if (!isNodeError(e, 'ENOENT')) throw e;
  }
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  // Written whole to a private temp file, then linked into place: link() fails if the key
  // exists, so racing processes agree on one key and none ever reads a half-written file.
  const temp = `${path}.${process.pid}.${randomUUID()}.tmp`;
  await writeFile(temp, generateSigningKeyPem(), { mode: 0o600, flag: 'wx' });
  try {
    await link(temp, path);
  } catch (e) {
    if (!isNodeError(e, 'EEXIST')) throw e;
  } finally {
    await unlink(temp);
  }
  return signingKeyFromPem(await readFile(path, 'utf8'));
}

// A key-held signer: no Fulcio certificate and (witnesses: []) no Rekor or TSA, so signing is
// offline; the verifier finds the public key by the hint.
function keySigner(key: SigningKey): Signer {
  return {
    sign: async (data) => ({
      signature: sign('sha256', data, key.privateKey),
      key: { $case: 'publicKey', publicKey: key.publicKeyPem, hint: key.keyId },
    }),
  };
}

export async function signStatement(statement: ReceiptStatement, key: SigningKey): Promise<SignedReceipt> {
  const payload = canonicalJson(statement);
  const builder = new DSSEBundleBuilder({ signer: keySigner(key), witnesses: [] });
  const bundle = await builder.create({ data: Buffer.from(payload, 'utf8'), type: RECEIPT_PAYLOAD_TYPE });
  const sig = bundle.content.dsseEnvelope.signatures[0]?.sig;
  if (!sig) throw new AppError('INTERNAL', 'the DSSE envelope came back without a signature');
  return {
    bundle: bundleToJSON(bundle),
    payload,
    digest: `sha256:${sha256Hex(payload)}`,
    signature: sig.toString('base64'),
  };
}

const publicKeys = new WeakMap<KeyObject, KeyObject>();

/** DSSE's pre-authentication encoding: what a DSSE signature covers. */
function dssePae(payloadType: string, body: Buffer): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `), type, Buffer.from(` ${body.length} `), body]);
}

/**
 * Whether a receipt this process just signed carries a signature its key verifies: one ECDSA
 * verify. It is the check for a receipt whose stored bytes are the ones signed here (a put that
 * created the object) — its statement and digest are known already, so the full bundle
 * verification (`verifyReceiptBundle`) is kept for receipts read back from the store.
 */
export function signatureHolds(signed: Pick<SignedReceipt, 'payload' | 'signature'>, key: SigningKey): boolean {
  let publicKey = publicKeys.get(key.privateKey);
  if (!publicKey) {
    publicKey = createPublicKey(key.privateKey);
    publicKeys.set(key.privateKey, publicKey);
  }
  return verify('sha256', dssePae(RECEIPT_PAYLOAD_TYPE, Buffer.from(signed.payload, 'utf8')), publicKey, Buffer.from(signed.signature, 'base64'));
}

export interface SignedPayload {
  /** Sigstore bundle v0.3 (JSON form) holding the DSSE envelope over `payload`. */
  bundle: SerializedBundle;
  /** `sha256:<hex>` of the payload bytes. */
  digest: string;
}

/**
 * Signs arbitrary bytes as a DSSE envelope of the given payload type, with the same key-held,
 * offline signer receipts use. For documents that are not receipts (the disclosure pack's
 * manifest, spec §14); verify with `verifyDssePayload` in receipt-verification.ts.
 */
export async function signPayload(payload: string | Uint8Array, payloadType: string, key: SigningKey): Promise<SignedPayload> {
  const data = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : Buffer.from(payload);
  const builder = new DSSEBundleBuilder({ signer: keySigner(key), witnesses: [] });
  const bundle = await builder.create({ data, type: payloadType });
  return { bundle: bundleToJSON(bundle), digest: `sha256:${sha256Hex(data)}` };
}
