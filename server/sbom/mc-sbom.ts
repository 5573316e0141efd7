import { readFileSync } from 'node:fs';
import * as CDX from '@cyclonedx/cyclonedx-library';
import { mcVersion } from '../version.ts';

/**
 * The SBOM of MC itself (spec §18 "SBOM attached to artifacts"): every package installed from
 * bun.lock, as CycloneDX components with `pkg:npm/…` purls and their lockfile integrity hashes.
 * Packages reachable only through devDependencies are scope `excluded` (not part of what runs).
 * `bun run sbom` writes it to dist/sbom.json (server/sbom/write-sbom.ts); disclosure packs carry
 * the same components (server/disclosure/disclosure-pack.ts); `bun run compliance` validates it.
 */

export interface LockedPackage {
  /** The lockfile key: the package's install path (`negotiator`, or `accepts/negotiator` when nested). */
  key: string;
  name: string;
  version: string;
  purl: string;
  /** sha512 of the tarball, hex, from the lockfile's integrity. */
  sha512: string | null;
  devOnly: boolean;
}

type LockEntry = [string, string?, { dependencies?: Record<string, string>; optionalDependencies?: Record<string, string>; peerDependencies?: Record<string, string> }?, string?];
interface BunLock {
  workspaces: Record<string, { name?: string; dependencies?: Record<string, string>; devDependencies?: Record<string, string>; optionalDependencies?: Record<string, string> }>;
  packages: Record<string, LockEntry>;
}

export const lockfilePath = new URL('../../bun.lock', import.meta.url).pathname;
export const sbomPath = new URL('../../dist/sbom.json', import.meta.url).pathname;

/** `pkg:npm/%40scope/name@version` (purl spec: the scope's `@` is percent-encoded). */
export function npmPurl(name: string, version: string): string {
  const encoded = name.startsWith('@') ? `%40${name.slice(1)}` : name;
  return `pkg:npm/${encoded}@${encodeURIComponent(version)}`;
}

/** Every npm package of a bun.lock (text), with whether only devDependencies reach it. */
export function lockedPackages(lockText: string): LockedPackage[] {
  const lock = Bun.JSONC.parse(lockText) as BunLock;
  const entries = Object.entries(lock.packages).filter(([, e]) => {
    const ident = e[0];
    const at = ident.lastIndexOf('@');
    // Workspace packages, git and file dependencies are ours or not from npm.
    return at > 0 && !/@(workspace|file|link|git|github):/.test(ident);
  });
  const byKey = new Map(entries);

  // Node resolution over lockfile keys: from `a/b`, a dependency `c` is `a/b/c`, then `a/c`, then `c`.
  const resolve = (fromKey: string, dep: string): string | undefined => {
    const parts = fromKey === '' ? [] : fromKey.split('/');
    for (let i = parts.length; i >= 0; i--) {
      const candidate = [...parts.slice(0, i), dep].join('/');
      if (byKey.has(candidate)) return candidate;
    }
    return undefined;
  };
  const runtime = new Set<string>();
  const visit = (key: string) => {
    if (runtime.has(key)) return;
    runtime.add(key);
    const meta = byKey.get(key)?.[2];
    for (const dep of Object.keys({ ...meta?.dependencies, ...meta?.optionalDependencies, ...meta?.peerDependencies })) {
      const next = resolve(key, dep);
      if (next) visit(next);
    }
  };
  for (const ws of Object.values(lock.workspaces)) {
    for (const dep of Object.keys({ ...ws.dependencies, ...ws.optionalDependencies })) {
      const key = resolve('', dep);
      if (key) visit(key);
    }
  }

  return entries
    .map(([key, e]) => {
      const ident = e[0];
      const at = ident.lastIndexOf('@');
      const name = ident.slice(0, at);
      const version = ident.slice(at + 1);
      const integrity = e[3];
      const sha512 = typeof integrity === 'string' && integrity.startsWith('sha512-') ? Buffer.from(integrity.slice(7), 'base64').toString('hex') : null;
      return { key, name, version, purl: npmPurl(name, version), sha512, devOnly: !runtime.has(key) };
    })
    .sort((a, b) => a.key.localeCompare(b.key));
}

let cached: LockedPackage[] | undefined;
/** MC's own packages, read once per process from the repository's bun.lock. */
export function mcPackages(): LockedPackage[] {
  cached ??= lockedPackages(readFileSync(lockfilePath, 'utf8'));
  return cached;
}

/** The CycloneDX component of one locked package; its bom-ref is the lockfile key (unique even when two versions are installed). */
export function packageComponent(p: LockedPackage): CDX.Models.Component {
  const slash = p.name.startsWith('@') ? p.name.indexOf('/') : -1;
  const c = new CDX.Models.Component(CDX.Enums.ComponentType.Library, slash > 0 ? p.name.slice(slash + 1) : p.name, {
    ...(slash > 0 ? { group: p.name.slice(0, slash) } : {}),
    version: p.version,
    bomRef: `npm:${p.key}@${p.version}`,
    scope: p.devOnly ? CDX.Enums.ComponentScope.Excluded : CDX.Enums.ComponentScope.Required,
  });
  // The library wants a PackageURL object; a string is what the serialiser writes anyway.
  c.purl = p.purl as unknown as CDX.Models.Component['purl'];
  if (p.sha512) c.hashes.set(CDX.Enums.HashAlgorithm['SHA-512'], p.sha512);
  return c;
}

export const sbomSpec = CDX.Spec.Spec1dot6;

/** The SBOM document of MC (`dist/sbom.json`). Deterministic for a given lockfile and version. */
export function buildMcSbom(packages: LockedPackage[] = mcPackages()): string {
  const bom = new CDX.Models.Bom();
  const mc = new CDX.Models.Component(CDX.Enums.ComponentType.Application, 'maestro-conductor', {
    version: mcVersion,
    bomRef: `maestro-conductor@${mcVersion}`,
    description: 'Maestro Conductor: workflow control plane',
  });
  mc.purl = `pkg:generic/maestro-conductor@${mcVersion}` as unknown as CDX.Models.Component['purl'];
  bom.metadata.component = mc;
  for (const p of packages) {
    const c = packageComponent(p);
    bom.components.add(c);
    mc.dependencies.add(c.bomRef);
  }
  const serializer = new CDX.Serialize.JsonSerializer(new CDX.Serialize.JSON.Normalize.Factory(sbomSpec));
  return `${serializer.serialize(bom, { sortLists: true, space: 2 })}\n`;
}

/** Schema problems of a CycloneDX JSON document (CycloneDX's own JSON schema, strict), empty when valid. */
export async function sbomSchemaProblems(text: string): Promise<string[]> {
  let specVersion: unknown;
  try {
    specVersion = (JSON.parse(text) as { specVersion?: unknown }).specVersion;
  } catch (e) {
    return [`not JSON: ${e instanceof Error ? e.message : String(e)}`];
  }
  const version = Object.values(CDX.Spec.Version).find((v) => v === specVersion);
  if (!version) return [`unknown CycloneDX specVersion ${JSON.stringify(specVersion)}`];
  const errors = await new CDX.Validation.JsonStrictValidator(version).validate(text);
  if (errors === null) return [];
  return (Array.isArray(errors) ? errors : [errors]).slice(0, 20).map((e) => JSON.stringify(e));
}
