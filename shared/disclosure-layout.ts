import { z } from 'zod';

/**
 * The disclosure pack (spec §14, docs/provenance/DISCLOSURE_LAYOUT.md): what files it holds and
 * the shapes of MC's own files in it. The builder (server/disclosure/disclosure-pack.ts) writes
 * these and the verifier (shared/disclosure-verification.ts) reads them, so the two cannot drift.
 */

/** DSSE payload type of manifest.sig: the signed bytes are exactly manifest.json. */
export const DISCLOSURE_MANIFEST_PAYLOAD_TYPE = 'application/vnd.maestro-conductor.disclosure-manifest.v1+json';

export const MANIFEST_FILE = 'manifest.json';
export const MANIFEST_SIG_FILE = 'manifest.sig';
export const RECEIPT_FILE = 'receipt.json';
export const RECEIPT_SIG_FILE = 'receipt.sig';
export const SBOM_FILE = 'sbom.json';
export const DECISIONS_FILE = 'policy/decisions.json';
export const BUNDLES_FILE = 'policy/bundles.sha256';

export function logsFile(executionId: string): string {
  return `logs/exec_${executionId}.ndjson`;
}

/** Every file the manifest must list, in the order the pack holds them (manifest.json and manifest.sig follow). */
export function coveredFiles(executionId: string): string[] {
  return [RECEIPT_FILE, RECEIPT_SIG_FILE, SBOM_FILE, DECISIONS_FILE, BUNDLES_FILE, logsFile(executionId)];
}

const digestSchema = z.string().regex(/^sha256:[0-9a-f]{64}$/, 'must look like "sha256:<64 hex digits>"');

export const disclosureManifestSchema = z.strictObject({
  executionId: z.string().min(1).max(100),
  files: z.record(z.string(), digestSchema),
});
export type DisclosureManifest = z.infer<typeof disclosureManifestSchema>;

/** One policy decision as recorded (server/policy/decision-repository.ts), dates as ISO strings. */
export const disclosedDecisionSchema = z.object({
  decisionId: z.string().min(1),
  pack: z.string().min(1),
  allow: z.boolean(),
  reasons: z.array(z.string()),
  bundleDigest: digestSchema,
  backend: z.string(),
  phase: z.string(),
  action: z.string(),
  executionId: z.string().nullable(),
  createdAt: z.string(),
});

export const disclosedDecisionsSchema = z.strictObject({
  executionId: z.string().min(1),
  decisions: z.array(disclosedDecisionSchema),
});
export type DisclosedDecisions = z.infer<typeof disclosedDecisionsSchema>;

/** One NDJSON line of logs/exec_<id>.ndjson: a redacted step log line tagged with its execution. */
export const disclosedLogLineSchema = z.object({
  executionId: z.string().min(1),
  id: z.number().int(),
  ts: z.string(),
  level: z.string(),
  taskId: z.string().nullable(),
  message: z.string(),
});

/** The SBOM property naming the MC task package ref a component stands for (`pkg:<ns>/<name>@<ver>`). */
export const SBOM_PACKAGE_REF_PROPERTY = 'maestro-conductor:task-package-ref';

/** MC task package refs are not registered purl types, so the SBOM uses the generic type. */
export function taskPackagePurl(ref: string): string {
  const m = /^pkg:([^/]+)\/([^@]+)@(.+)$/.exec(ref);
  if (!m) throw new RangeError(`not an MC task package ref: ${ref}`);
  const [, ns, name, version] = m;
  return `pkg:generic/${encodeURIComponent(ns!)}/${encodeURIComponent(name!)}@${encodeURIComponent(version!)}`;
}
