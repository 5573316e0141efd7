import { bundleFromJSON, bundleToJSON } from '@sigstore/bundle';
import { canonicalJson, sha256Hex } from './canonical-json.ts';
import {
  BUNDLES_FILE,
  coveredFiles,
  DECISIONS_FILE,
  DISCLOSURE_MANIFEST_PAYLOAD_TYPE,
  disclosedDecisionsSchema,
  disclosedLogLineSchema,
  disclosureManifestSchema,
  logsFile,
  MANIFEST_FILE,
  MANIFEST_SIG_FILE,
  RECEIPT_FILE,
  RECEIPT_SIG_FILE,
  SBOM_FILE,
  SBOM_PACKAGE_REF_PROPERTY,
  type DisclosureManifest,
} from './disclosure-layout.ts';
import type { ReceiptStatement } from './receipt-statement.ts';
import { verifyDssePayload, verifyReceiptBundle, type ReceiptPublicKey } from './receipt-verification.ts';
import { readTarGz } from './tar-archive.ts';

/**
 * Offline verification of a disclosure pack (spec §14): pure — bytes and trusted public keys in,
 * an answer out; no network, no clock, no filesystem; never throws. It names the FIRST thing that
 * fails, in this order (docs/provenance/DISCLOSURE_LAYOUT.md lists the same):
 *  1. the archive is a gzip'd ustar of plain files;
 *  2. manifest.sig is a DSSE bundle by a trusted key over exactly the bytes of manifest.json;
 *  3. manifest.json lists exactly the covered files, and the archive holds nothing else;
 *  4. every covered file's sha256 is the one the manifest names;
 *  5. receipt.sig verifies (trusted key, statement, subject digest) and signs exactly receipt.json;
 *  6. policy/bundles.sha256 is the bundle the receipt and every decision name;
 *  7. the decisions, log lines and the receipt all belong to the manifest's execution;
 *  8. the SBOM is CycloneDX ≥ 1.5 and lists every task package the receipt's steps used.
 */

export interface VerifiedFile {
  path: string;
  digest: string;
  bytes: number;
}

export type DisclosureVerification =
  | { ok: true; executionId: string; receiptDigest: string; keyId: string; statement: ReceiptStatement; files: VerifiedFile[] }
  | { ok: false; /** The file that failed, or null for the archive as a whole. */ file: string | null; reason: string; /** `file: reason`, ready to print. */ message: string };

export type ReceiptFilesVerification =
  | { ok: true; executionId: string; receiptDigest: string; statement: ReceiptStatement }
  | { ok: false; file: string | null; reason: string; message: string };

class Failure {
  constructor(
    readonly file: string | null,
    readonly reason: string,
  ) {}
}

function failed(f: Failure): { ok: false; file: string | null; reason: string; message: string } {
  return { ok: false, file: f.file, reason: f.reason, message: f.file ? `${f.file}: ${f.reason}` : f.reason };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const SIGSTORE_BUNDLE_V03 = 'application/vnd.dev.sigstore.bundle.v0.3+json';

function parseJson(file: string, bytes: Uint8Array): unknown {
  try {
    return JSON.parse(utf8.decode(bytes));
  } catch {
    throw new Failure(file, 'not valid UTF-8 JSON');
  }
}

const digestHex = (bytes: Uint8Array) => `sha256:${sha256Hex(bytes)}`;

/**
 * Sigstore bundles are JSON whose base64 fields decode leniently (a stray byte in padding still
 * decodes to the same signature), so a signature file must be byte-for-byte the serialisation of
 * what it parses to: then no byte of it can change without notice.
 */
function parseBundleStrict(file: string, bytes: Uint8Array): unknown {
  const json = parseJson(file, bytes);
  let reserialised: string;
  try {
    reserialised = JSON.stringify(bundleToJSON(bundleFromJSON(json)));
  } catch (e) {
    throw new Failure(file, `malformed Sigstore bundle: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (reserialised !== utf8.decode(bytes)) throw new Failure(file, 'not in the canonical Sigstore bundle serialisation (altered)');
  // bundleFromJSON accepts any version-shaped media type; MC writes exactly this one.
  if ((json as { mediaType?: unknown }).mediaType !== SIGSTORE_BUNDLE_V03) throw new Failure(file, `media type is not ${SIGSTORE_BUNDLE_V03}`);
  return json;
}

function shortDigest(d: string): string {
  return d.length > 19 ? `${d.slice(0, 19)}…` : d;
}

/** Verifies a pack.tgz against trusted keys. */
export async function verifyDisclosurePack(tgz: Uint8Array, keys: ReceiptPublicKey[]): Promise<DisclosureVerification> {
  try {
    return await verifyOrFail(tgz, keys);
  } catch (e) {
    if (e instanceof Failure) return failed(e);
    return failed(new Failure(null, `verification error: ${e instanceof Error ? e.message : String(e)}`));
  }
}

async function verifyOrFail(tgz: Uint8Array, keys: ReceiptPublicKey[]): Promise<DisclosureVerification> {
  if (keys.length === 0) throw new Failure(null, 'no trusted public key given');
  const archive = readTarGz(tgz);
  if (!archive.ok) throw new Failure(null, `not a valid disclosure pack: ${archive.reason}`);
  const files = new Map(archive.entries.map((e) => [e.path, e.data]));

  // 2. The manifest is authentic.
  const manifestBytes = files.get(MANIFEST_FILE);
  if (!manifestBytes) throw new Failure(MANIFEST_FILE, 'missing from the pack');
  const sigBytes = files.get(MANIFEST_SIG_FILE);
  if (!sigBytes) throw new Failure(MANIFEST_SIG_FILE, 'missing from the pack');
  const sig = verifyDssePayload(parseBundleStrict(MANIFEST_SIG_FILE, sigBytes), keys, DISCLOSURE_MANIFEST_PAYLOAD_TYPE);
  if (!sig.ok) throw new Failure(MANIFEST_SIG_FILE, sig.reason);
  if (!bytesEqual(sig.payload, manifestBytes)) throw new Failure(MANIFEST_FILE, 'does not match the manifest signed in manifest.sig (altered)');
  const parsed = disclosureManifestSchema.safeParse(parseJson(MANIFEST_FILE, manifestBytes));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Failure(MANIFEST_FILE, `not a disclosure manifest: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid'}`);
  }
  const manifest: DisclosureManifest = parsed.data;
  const executionId = manifest.executionId;

  // 3. Exactly the expected files, listed and present.
  const expected = coveredFiles(executionId);
  for (const path of Object.keys(manifest.files)) {
    if (!expected.includes(path)) throw new Failure(MANIFEST_FILE, `lists ${path}, which is not part of a disclosure pack`);
  }
  for (const path of expected) {
    if (!(path in manifest.files)) throw new Failure(MANIFEST_FILE, `does not list ${path}`);
  }
  for (const path of files.keys()) {
    if (path !== MANIFEST_FILE && path !== MANIFEST_SIG_FILE && !expected.includes(path)) {
      throw new Failure(path, 'unexpected file: not listed in manifest.json');
    }
  }
  // 4. Every covered file is the one the manifest names.
  const verified: VerifiedFile[] = [];
  for (const path of expected) {
    const bytes = files.get(path);
    if (!bytes) throw new Failure(path, 'missing from the pack (listed in manifest.json)');
    const want = manifest.files[path]!;
    const got = digestHex(bytes);
    if (got !== want) throw new Failure(path, `digest mismatch (manifest.json says ${shortDigest(want)}, file is ${shortDigest(got)})`);
    verified.push({ path, digest: got, bytes: bytes.length });
  }

  // 5. The receipt: signed by a trusted key, for this execution, and exactly receipt.json.
  const receipt = await verifyReceiptPair(files.get(RECEIPT_FILE)!, files.get(RECEIPT_SIG_FILE)!, keys, executionId);

  // 6. + 7. Policy: one bundle digest throughout, decisions of this execution only.
  const bundlesBytes = files.get(BUNDLES_FILE)!;
  const bundlesText = decodeText(BUNDLES_FILE, bundlesBytes);
  const lines = bundlesText.split('\n').filter((l) => l !== '');
  if (lines.length === 0 || !lines.every((l) => /^[0-9a-f]{64} {2}\S+$/.test(l))) {
    throw new Failure(BUNDLES_FILE, 'not a sha256sum listing ("<64 hex>  <path>" per line)');
  }
  const bundleDigest = digestHex(bundlesBytes);
  const receiptBundle = receipt.statement.predicate.policy.bundleDigest;
  if (receiptBundle !== null && receiptBundle !== bundleDigest) {
    throw new Failure(BUNDLES_FILE, `digest ${shortDigest(bundleDigest)} is not the policy bundle the receipt names (${shortDigest(receiptBundle)})`);
  }
  const decisionsParsed = disclosedDecisionsSchema.safeParse(parseJson(DECISIONS_FILE, files.get(DECISIONS_FILE)!));
  if (!decisionsParsed.success) {
    const issue = decisionsParsed.error.issues[0];
    throw new Failure(DECISIONS_FILE, `not a decisions file: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid'}`);
  }
  const decisions = decisionsParsed.data;
  if (decisions.executionId !== executionId) throw new Failure(DECISIONS_FILE, `is for execution ${decisions.executionId}, not ${executionId}`);
  decisions.decisions.forEach((d, i) => {
    if (d.executionId !== executionId) throw new Failure(DECISIONS_FILE, `decisions.${i} (${d.decisionId}) belongs to execution ${d.executionId ?? 'none'}, not ${executionId}`);
    if (d.bundleDigest !== bundleDigest) {
      throw new Failure(DECISIONS_FILE, `decisions.${i} (${d.decisionId}) was made under policy bundle ${shortDigest(d.bundleDigest)}, not policy/bundles.sha256 (${shortDigest(bundleDigest)})`);
    }
  });
  for (const named of receipt.statement.predicate.policy.decisions) {
    const found = decisions.decisions.find((d) => d.decisionId === named.decisionId);
    if (!found) throw new Failure(DECISIONS_FILE, `lacks decision ${named.decisionId} (${named.pack}) named by the receipt`);
    if (found.pack !== named.pack || found.allow !== named.allow || canonicalJson(found.reasons) !== canonicalJson(named.reasons)) {
      throw new Failure(DECISIONS_FILE, `decision ${named.decisionId} differs from the receipt's record of it`);
    }
  }

  const logPath = logsFile(executionId);
  const logText = decodeText(logPath, files.get(logPath)!);
  if (logText !== '' && !logText.endsWith('\n')) throw new Failure(logPath, 'does not end with a newline (truncated?)');
  logText
    .split('\n')
    .slice(0, -1)
    .forEach((line, i) => {
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        throw new Failure(logPath, `line ${i + 1} is not JSON`);
      }
      const l = disclosedLogLineSchema.safeParse(value);
      if (!l.success) throw new Failure(logPath, `line ${i + 1} is not a step log line`);
      if (l.data.executionId !== executionId) throw new Failure(logPath, `line ${i + 1} belongs to execution ${l.data.executionId}, not ${executionId}`);
    });

  // 8. The SBOM names what ran.
  const sbom = parseJson(SBOM_FILE, files.get(SBOM_FILE)!) as { bomFormat?: unknown; specVersion?: unknown; components?: unknown };
  if (sbom === null || typeof sbom !== 'object' || sbom.bomFormat !== 'CycloneDX') throw new Failure(SBOM_FILE, 'not a CycloneDX document');
  if (typeof sbom.specVersion !== 'string' || !/^1\.([5-9]|\d{2,})$/.test(sbom.specVersion)) throw new Failure(SBOM_FILE, `specVersion ${String(sbom.specVersion)} is older than 1.5`);
  const refs = new Set<string>();
  for (const c of Array.isArray(sbom.components) ? sbom.components : []) {
    const props = (c as { properties?: unknown }).properties;
    for (const p of Array.isArray(props) ? props : []) {
      const { name, value } = p as { name?: unknown; value?: unknown };
      if (name === SBOM_PACKAGE_REF_PROPERTY && typeof value === 'string') refs.add(value);
    }
  }
  for (const step of receipt.statement.predicate.steps) {
    if (!refs.has(step.uses)) throw new Failure(SBOM_FILE, `does not list task package ${step.uses} (used by step ${step.taskId})`);
  }

  verified.push({ path: MANIFEST_FILE, digest: digestHex(manifestBytes), bytes: manifestBytes.length });
  verified.push({ path: MANIFEST_SIG_FILE, digest: digestHex(sigBytes), bytes: sigBytes.length });
  return { ok: true, executionId, receiptDigest: receipt.digest, keyId: sig.keyId, statement: receipt.statement, files: verified };
}

function decodeText(file: string, bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new Failure(file, 'not valid UTF-8 text');
  }
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

async function verifyReceiptPair(
  receiptBytes: Uint8Array,
  bundleBytes: Uint8Array,
  keys: ReceiptPublicKey[],
  executionId: string | undefined,
  names: { receipt: string; bundle: string } = { receipt: RECEIPT_FILE, bundle: RECEIPT_SIG_FILE },
): Promise<{ statement: ReceiptStatement; digest: string }> {
  const bundle = parseJson(names.bundle, bundleBytes);
  // The receipt file is the signed statement; its digest is the receipt's digest.
  const result = await verifyReceiptBundle(bundle, keys, { digest: digestHex(receiptBytes), ...(executionId ? { executionId } : {}) });
  if (!result.ok) {
    // Say which of the two files is at fault: a bundle that verifies on its own means receipt.json changed.
    if (result.reason.startsWith('digest mismatch')) throw new Failure(names.receipt, `is not the statement signed in ${names.bundle} (altered)`);
    throw new Failure(names.bundle, result.reason);
  }
  return { statement: result.statement, digest: result.digest };
}

/**
 * Offline verification of a receipt saved as two files (`mc receipt get -o DIR` writes them):
 * the signed statement (receipt.json, any JSON formatting) and its Sigstore bundle.
 */
export async function verifyReceiptFiles(
  receiptBytes: Uint8Array,
  bundleBytes: Uint8Array,
  keys: ReceiptPublicKey[],
  names: { receipt: string; bundle: string } = { receipt: RECEIPT_FILE, bundle: 'bundle.json' },
): Promise<ReceiptFilesVerification> {
  try {
    if (keys.length === 0) throw new Failure(null, 'no trusted public key given');
    // Accept a pretty-printed receipt.json: compare its canonical form with the signed bytes.
    const canonical = new TextEncoder().encode(canonicalJson(parseJson(names.receipt, receiptBytes)));
    const { statement, digest } = await verifyReceiptPair(canonical, bundleBytes, keys, undefined, names);
    return { ok: true, executionId: statement.predicate.execution.id, receiptDigest: digest, statement };
  } catch (e) {
    if (e instanceof Failure) return failed(e);
    return failed(new Failure(null, `verification error: ${e instanceof Error ? e.message : String(e)}`));
  }
}
