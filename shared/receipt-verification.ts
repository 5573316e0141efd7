import { bundleFromJSON, type Bundle } from '@sigstore/bundle';
import { toSignedEntity, toTrustMaterial, Verifier, VerificationError, type SignedEntity } from '@sigstore/verify';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { canonicalJson, sha256Hex } from './canonical-json.ts';
import { RECEIPT_PAYLOAD_TYPE } from './receipt-signing.ts';
import {
  predicateDigestHex,
  receiptStatementSchema,
  receiptSubjectName,
  type ReceiptStatement,
} from './receipt-statement.ts';

export interface ReceiptPublicKey {
  keyId: string;
  publicKeyPem: string;
}

export type ReceiptVerification =
  | { ok: true; statement: ReceiptStatement; digest: string }
  | { ok: false; reason: string };

type TrustedRoot = Parameters<typeof toTrustMaterial>[0];

// Offline, key-based trust: no transparency logs, CAs or timestamp authorities. Every threshold
// must be 0 — timestampThreshold too, or the verifier demands a timestamp we never obtain.
const offlineRoot: TrustedRoot = {
  mediaType: 'application/vnd.dev.sigstore.trustedroot.v0.2+json',
  tlogs: [],
  certificateAuthorities: [],
  ctlogs: [],
  timestampAuthorities: [],
};
const offlineThresholds = { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 };

function fail(reason: string): ReceiptVerification {
  return { ok: false, reason };
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Verifies a receipt bundle offline against the given public keys. Never throws: a receipt is
 * external data (a stored object, a file a user hands the CLI), so every failure is an answer.
 */
export async function verifyReceiptBundle(
  bundleJson: unknown,
  keys: ReceiptPublicKey[],
  expected: { digest?: string; executionId?: string } = {},
): Promise<ReceiptVerification> {
  try {
    return verifyOrExplain(bundleJson, keys, expected);
  } catch (e) {
    // Only reachable through a library bug or hostile input shaped in a way not foreseen below.
    return fail(`verification error: ${messageOf(e)}`);
  }
}

function verifyOrExplain(
  bundleJson: unknown,
  keys: ReceiptPublicKey[],
  expected: { digest?: string; executionId?: string },
): ReceiptVerification {
  let bundle: Bundle;
  let entity: SignedEntity;
  try {
    bundle = bundleFromJSON(bundleJson);
    entity = toSignedEntity(bundle);
  } catch (e) {
    return fail(`malformed bundle: ${messageOf(e)}`);
  }
  if (bundle.content.$case !== 'dsseEnvelope') return fail('malformed bundle: not a DSSE envelope');
  const envelope = bundle.content.dsseEnvelope;
  if (bundle.verificationMaterial.content.$case !== 'publicKey') return fail('malformed bundle: no public key hint');
  // The verifier checks only the first signature; a second one would be unchecked baggage.
  if (envelope.signatures.length !== 1) return fail('malformed bundle: expected exactly one signature');
  if (envelope.payloadType !== RECEIPT_PAYLOAD_TYPE) return fail(`malformed bundle: payload type is not ${RECEIPT_PAYLOAD_TYPE}`);

  const hint = bundle.verificationMaterial.content.publicKey.hint;
  const known = keys.find((k) => k.keyId === hint);
  if (!known) return fail(`unknown key ${hint}`);

  let publicKey: ReturnType<typeof createPublicKey>;
  try {
    publicKey = createPublicKey(known.publicKeyPem);
  } catch (e) {
    return fail(`unusable public key ${hint}: ${messageOf(e)}`);
  }
  try {
    const trust = toTrustMaterial(offlineRoot, () => ({ publicKey, validFor: () => true }));
    new Verifier(trust, offlineThresholds).verify(entity);
  } catch (e) {
    const detail = e instanceof VerificationError && e.code !== 'SIGNATURE_ERROR' ? ` (${e.code}: ${e.message})` : '';
    return fail(`signature does not verify${detail}`);
  }

  // From here the bytes are authentic; what remains is whether they are a well-formed MC receipt.
  const payloadBytes = envelope.payload;
  const digest = `sha256:${sha256Hex(payloadBytes)}`;
  let statement: ReceiptStatement;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(payloadBytes);
    const parsed = receiptStatementSchema.safeParse(JSON.parse(text));
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return fail(`payload is not a valid MC receipt statement: ${issue ? `${issue.path.join('.')}: ${issue.message}` : 'invalid'}`);
    }
    statement = parsed.data;
    // Signed bytes must be the canonical form, so the digest indexes one value, not one of many spellings.
    if (canonicalJson(statement) !== text) return fail('payload is not a valid MC receipt statement: not in canonical form');
  } catch (e) {
    return fail(`payload is not a valid MC receipt statement: ${messageOf(e)}`);
  }

  const [subject] = statement.subject;
  if (subject.digest.sha256 !== predicateDigestHex(statement.predicate)) {
    return fail('subject digest does not match predicate');
  }
  if (subject.name !== receiptSubjectName(statement.predicate.execution.id)) {
    return fail('subject name does not match execution id');
  }
  if (expected.digest !== undefined && expected.digest !== digest) {
    return fail(`digest mismatch: expected ${expected.digest}, got ${digest}`);
  }
  if (expected.executionId !== undefined && expected.executionId !== statement.predicate.execution.id) {
    return fail(`execution id mismatch: expected ${expected.executionId}, got ${statement.predicate.execution.id}`);
  }
  return { ok: true, statement, digest };
}

export type DsseVerification = { ok: true; payload: Uint8Array; keyId: string } | { ok: false; reason: string };

/**
 * Verifies any single-signature DSSE bundle of `payloadType` offline against the given keys and
 * returns the authenticated payload bytes (what `signPayload` in receipt-signing.ts signed).
 * Never throws. Receipts go through `verifyReceiptBundle`, which also checks the statement.
 */
export function verifyDssePayload(bundleJson: unknown, keys: ReceiptPublicKey[], payloadType: string): DsseVerification {
  try {
    let bundle: Bundle;
    let entity: SignedEntity;
    try {
      bundle = bundleFromJSON(bundleJson);
      entity = toSignedEntity(bundle);
    } catch (e) {
      return { ok: false, reason: `malformed bundle: ${messageOf(e)}` };
    }
    if (bundle.content.$case !== 'dsseEnvelope') return { ok: false, reason: 'malformed bundle: not a DSSE envelope' };
    const envelope = bundle.content.dsseEnvelope;
    if (bundle.verificationMaterial.content.$case !== 'publicKey') return { ok: false, reason: 'malformed bundle: no public key hint' };
    if (envelope.signatures.length !== 1) return { ok: false, reason: 'malformed bundle: expected exactly one signature' };
    if (envelope.payloadType !== payloadType) return { ok: false, reason: `malformed bundle: payload type is not ${payloadType}` };
    const hint = bundle.verificationMaterial.content.publicKey.hint;
    // The verifier ignores the envelope's keyid; require it to agree so no unchecked field rides along.
    if (envelope.signatures[0]?.keyid !== hint) return { ok: false, reason: 'malformed bundle: the signature keyid does not match the public key hint' };
    const known = keys.find((k) => k.keyId === hint);
    if (!known) return { ok: false, reason: `signed by key ${hint}, which is not among the trusted keys` };
    let publicKey: ReturnType<typeof createPublicKey>;
    try {
      publicKey = createPublicKey(known.publicKeyPem);
    } catch (e) {
      return { ok: false, reason: `unusable public key ${hint}: ${messageOf(e)}` };
    }
    try {
      const trust = toTrustMaterial(offlineRoot, () => ({ publicKey, validFor: () => true }));
      new Verifier(trust, offlineThresholds).verify(entity);
    } catch (e) {
      const detail = e instanceof VerificationError && e.code !== 'SIGNATURE_ERROR' ? ` (${e.code}: ${e.message})` : '';
      return { ok: false, reason: `signature does not verify${detail}` };
    }
    return { ok: true, payload: new Uint8Array(envelope.payload), keyId: hint };
  } catch (e) {
    return { ok: false, reason: `verification error: ${messageOf(e)}` };
  }
}

/**
 * A trusted key from a PEM file: an SPKI public key, or a private key whose public half is
 * taken. The key id is computed the way the signer computes it (sha256 of the SPKI DER), so it
 * matches the bundle's hint. Throws on text that is not a usable key.
 */
export function publicKeyFromPem(pem: string): ReceiptPublicKey {
  const key = pem.includes('PRIVATE KEY') ? createPublicKey(createPrivateKey(pem)) : createPublicKey(pem);
  return {
    keyId: sha256Hex(key.export({ type: 'spki', format: 'der' })),
    publicKeyPem: key.export({ type: 'spki', format: 'pem' }).toString(),
  };
}
