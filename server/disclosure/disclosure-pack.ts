import { readFile } from 'node:fs/promises';
import * as CDX from '@cyclonedx/cyclonedx-library';
import { canonicalJson, sha256Hex } from '@mc/shared/canonical-json';
import {
  BUNDLES_FILE,
  DECISIONS_FILE,
  DISCLOSURE_MANIFEST_PAYLOAD_TYPE,
  logsFile,
  MANIFEST_FILE,
  MANIFEST_SIG_FILE,
  RECEIPT_FILE,
  RECEIPT_SIG_FILE,
  SBOM_FILE,
  SBOM_PACKAGE_REF_PROPERTY,
  taskPackagePurl,
  type DisclosedDecisions,
  type DisclosureManifest,
} from '@mc/shared/disclosure-layout';
import type { Actor } from '@mc/shared/actor';
import { AppError } from '@mc/shared/errors';
import type { ReceiptStatement } from '@mc/shared/receipt-statement';
import { signPayload, type SigningKey } from '@mc/shared/receipt-signing';
import { verifyReceiptBundle } from '@mc/shared/receipt-verification';
import { writeTarGz, type TarEntry } from '@mc/shared/tar-archive';
import type { Deps } from '../deps.ts';
import { findExecution } from '../executions/repository.ts';
import { executionLogs, type LogLine } from '../executions/service.ts';
import { bundleManifestPath } from '../policy/bundle-digest.ts';
import { findDecisionsForExecution, type PolicyDecisionRow } from '../policy/decision-repository.ts';
import { findReceipt } from '../receipts/repository.ts';
import { mcVersion } from '../version.ts';
import { mcPackages, packageComponent, type LockedPackage } from '../sbom/mc-sbom.ts';
import { receiptVerificationFailuresTotal } from '../observability/metrics.ts';

/**
 * Builds the disclosure pack of an execution (spec §14; layout and checks in
 * docs/provenance/DISCLOSURE_LAYOUT.md; verified offline by shared/disclosure-verification.ts).
 * The server signs the pack's manifest only over a receipt it has just verified itself, so it
 * never vouches for a stored object that was altered.
 */

export interface DisclosurePack {
  executionId: string;
  fileName: string;
  /** The gzip'd tar. */
  bytes: Uint8Array<ArrayBuffer>;
  manifest: DisclosureManifest;
}

/** What goes into a pack; everything has already been read. Exposed so tests can build packs without a server. */
export interface DisclosureParts {
  executionId: string;
  statement: ReceiptStatement;
  /** The stored Sigstore bundle bytes, exactly as kept in the object store. */
  receiptBundle: Uint8Array;
  decisions: DisclosedDecisions['decisions'];
  policyBundles: Uint8Array;
  logs: LogLine[];
  /** Seconds since the epoch for the tar entries' mtime: the execution's end, so a rebuild is byte-identical but for the signature. */
  mtimeSeconds: number;
}

const LOG_PAGE = 10_000;
const encoder = new TextEncoder();

function json(value: unknown): Uint8Array {
  return encoder.encode(`${JSON.stringify(value, null, 2)}\n`);
}

/** A UUID-shaped serial number derived from the execution id: the same execution always gets the same SBOM. */
function serialFor(executionId: string): string {
  const h = sha256Hex(`mc-sbom:${executionId}`);
  return `urn:uuid:${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** MC's npm packages that run (not those only devDependencies reach): what a pack says ran the execution. */
const mcRuntimePackages = (): LockedPackage[] => mcPackages().filter((p) => !p.devOnly);

/**
 * CycloneDX 1.5 JSON (via @cyclonedx/cyclonedx-library): the subject is the executed workflow;
 * its components are the task packages its steps used, the MC build that ran them, and that
 * build's runtime npm packages from bun.lock (the same components as `bun run sbom`,
 * server/sbom/mc-sbom.ts, which also lists the dev-only ones).
 */
export function buildSbom(statement: ReceiptStatement, mcDependencies: readonly LockedPackage[] = mcRuntimePackages()): Uint8Array {
  const { workflow, execution, steps } = statement.predicate;
  const bom = new CDX.Models.Bom();
  bom.serialNumber = serialFor(execution.id);
  if (execution.finishedAt) bom.metadata.timestamp = new Date(execution.finishedAt);
  const subject = new CDX.Models.Component(CDX.Enums.ComponentType.Application, workflow.name, {
    version: workflow.version,
    bomRef: `mc-workflow:${workflow.id}`,
    description: `MC workflow ${workflow.name}@${workflow.version} (manifest ${workflow.manifestDigest}), execution ${execution.id}`,
  });
  subject.properties.add(new CDX.Models.Property('maestro-conductor:execution-id', execution.id));
  subject.properties.add(new CDX.Models.Property('maestro-conductor:manifest-digest', workflow.manifestDigest));
  bom.metadata.component = subject;

  const mc = new CDX.Models.Component(CDX.Enums.ComponentType.Application, 'maestro-conductor', {
    version: mcVersion,
    bomRef: `maestro-conductor@${mcVersion}`,
    description: 'Maestro Conductor: the control plane that ran this execution',
  });
  mc.purl = `pkg:generic/maestro-conductor@${mcVersion}` as unknown as CDX.Models.Component['purl'];
  bom.components.add(mc);
  subject.dependencies.add(mc.bomRef);
  for (const p of mcDependencies) {
    const c = packageComponent(p);
    bom.components.add(c);
    mc.dependencies.add(c.bomRef);
  }

  for (const ref of [...new Set(steps.map((s) => s.uses))].sort()) {
    const m = /^pkg:([^/]+)\/([^@]+)@(.+)$/.exec(ref);
    const c = new CDX.Models.Component(CDX.Enums.ComponentType.Library, m?.[2] ?? ref, {
      ...(m ? { group: m[1], version: m[3] } : {}),
      bomRef: ref,
      description: 'MC task package',
    });
    // The purl library wants a PackageURL object; a string is what the serialiser writes anyway.
    c.purl = taskPackagePurl(ref) as unknown as CDX.Models.Component['purl'];
    c.properties.add(new CDX.Models.Property(SBOM_PACKAGE_REF_PROPERTY, ref));
    bom.components.add(c);
    subject.dependencies.add(c.bomRef);
  }
  const serializer = new CDX.Serialize.JsonSerializer(new CDX.Serialize.JSON.Normalize.Factory(CDX.Spec.Spec1dot5));
  return encoder.encode(`${serializer.serialize(bom, { sortLists: true, space: 2 })}\n`);
}

export function disclosedDecision(row: PolicyDecisionRow): DisclosedDecisions['decisions'][number] & Record<string, unknown> {
  return {
    decisionId: row.decisionId,
    pack: row.pack,
    allow: row.allow,
    reasons: row.reasons,
    bundleDigest: row.bundleDigest,
    backend: row.backend,
    latencyMs: row.latencyMs,
    phase: row.phase,
    action: row.action,
    actorSub: row.actorSub,
    workflowId: row.workflowId,
    executionId: row.executionId,
    inputDigest: row.inputDigest,
    createdAt: row.createdAt.toISOString(),
  };
}

/** Lays out, digests, signs and packs the parts. */
export async function assembleDisclosurePack(parts: DisclosureParts, key: SigningKey): Promise<DisclosurePack> {
  const { executionId } = parts;
  const logs = parts.logs.map((l) => `${JSON.stringify({ executionId, ...l })}\n`).join('');
  const covered: TarEntry[] = [
    // Exactly the signed bytes: the file's sha256 is the receipt digest.
    { path: RECEIPT_FILE, data: encoder.encode(canonicalJson(parts.statement)) },
    { path: RECEIPT_SIG_FILE, data: parts.receiptBundle },
    { path: SBOM_FILE, data: buildSbom(parts.statement) },
    { path: DECISIONS_FILE, data: json({ executionId, decisions: parts.decisions }) },
    { path: BUNDLES_FILE, data: parts.policyBundles },
    { path: logsFile(executionId), data: encoder.encode(logs) },
  ];
  const manifest: DisclosureManifest = {
    executionId,
    files: Object.fromEntries(covered.map((e) => [e.path, `sha256:${sha256Hex(e.data)}`])),
  };
  const manifestBytes = encoder.encode(canonicalJson(manifest));
  const signed = await signPayload(manifestBytes, DISCLOSURE_MANIFEST_PAYLOAD_TYPE, key);
  const entries: TarEntry[] = [
    ...covered,
    { path: MANIFEST_FILE, data: manifestBytes },
    { path: MANIFEST_SIG_FILE, data: encoder.encode(JSON.stringify(signed.bundle)) },
  ];
  return { executionId, fileName: `disclosure-${executionId}.tgz`, bytes: writeTarGz(entries, parts.mtimeSeconds), manifest };
}

async function allLogs(deps: Deps, executionId: string, actor: Pick<Actor, 'tenantId'>): Promise<LogLine[]> {
  const out: LogLine[] = [];
  for (let after = 0; ; ) {
    const page = await executionLogs(deps, executionId, actor, { after, limit: LOG_PAGE });
    out.push(...page);
    if (page.length < LOG_PAGE) return out;
    after = page[page.length - 1]!.id;
  }
}

/**
 * Reads everything an execution's pack holds and assembles it. Scoped to the caller's tenant: an
 * execution of another tenant is NOT_FOUND. NOT_FOUND / CONFLICT say what to do next.
 */
export async function buildDisclosurePack(deps: Deps, executionId: string, actor: Pick<Actor, 'tenantId'>): Promise<DisclosurePack> {
  const execution = await findExecution(deps.db, executionId, actor.tenantId);
  if (!execution) throw new AppError('NOT_FOUND', `execution ${executionId} not found`);
  const row = await findReceipt(deps.db, executionId);
  if (!row) {
    throw new AppError('CONFLICT', `execution ${executionId} is ${execution.status} and has no signed receipt yet; retry once it has finished and its receipt is stored`, {
      details: { status: execution.status },
    });
  }
  const stored = await deps.objectStore.getObject(row.bucket, row.objectKey);
  if (!stored) throw new AppError('UNAVAILABLE', `receipt object ${row.storedUri} is missing from the object store`);
  let bundle: unknown;
  try {
    bundle = JSON.parse(new TextDecoder().decode(stored));
  } catch {
    throw new AppError('INTERNAL', `stored receipt ${row.storedUri} is not valid JSON`);
  }
  const keys = [{ keyId: deps.signingKey.keyId, publicKeyPem: deps.signingKey.publicKeyPem }];
  const verified = await verifyReceiptBundle(bundle, keys, { executionId, digest: row.digest });
  if (!verified.ok) {
    receiptVerificationFailuresTotal.inc({ where: 'disclosure' });
    deps.logger.error({ 'exec.id': executionId, reason: verified.reason }, 'stored receipt does not verify; refusing to disclose');
    throw new AppError('INTERNAL', `the stored receipt of ${executionId} does not verify (${verified.reason}); not signing a disclosure pack over it`);
  }
  const [decisionRows, policyBundles, logs] = await Promise.all([
    findDecisionsForExecution(deps.db, executionId),
    readFile(bundleManifestPath),
    allLogs(deps, executionId, actor),
  ]);
  const end = execution.finishedAt ?? execution.createdAt;
  return assembleDisclosurePack(
    {
      executionId,
      statement: verified.statement,
      receiptBundle: stored,
      decisions: decisionRows.map(disclosedDecision),
      policyBundles: new Uint8Array(policyBundles),
      logs,
      mtimeSeconds: Math.floor(end.getTime() / 1000),
    },
    deps.signingKey,
  );
}
