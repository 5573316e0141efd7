import { existsSync, readFileSync } from 'node:fs';
import { lockedPackages, sbomSchemaProblems } from '@mc/server/sbom/mc-sbom';
import { fail, pass, type Check } from './compliance-check.ts';

/** "SBOM attached to artifacts": dist/sbom.json exists, is schema-valid CycloneDX, and lists every package of bun.lock. */
export const sbomCheck: Check = {
  id: 'sbom',
  checklist: 'SBOM attached to artifacts',
  async run(opts) {
    if (!existsSync(opts.sbomPath)) return fail(`${opts.sbomPath} is missing: run \`bun run sbom\``);
    const text = readFileSync(opts.sbomPath, 'utf8');
    const problems = await sbomSchemaProblems(text);
    if (problems.length > 0) return fail(`${opts.sbomPath} is not valid CycloneDX:`, ...problems.map((p) => `  ${p}`));
    const doc = JSON.parse(text) as { components?: { purl?: string }[] };
    const listed = new Set((doc.components ?? []).map((c) => c.purl));
    const locked = lockedPackages(readFileSync(opts.lockfilePath, 'utf8'));
    const missing = locked.filter((p) => !listed.has(p.purl));
    if (missing.length > 0) {
      return fail(`${opts.sbomPath} is stale: ${missing.length} locked packages are missing (e.g. ${missing.slice(0, 3).map((p) => p.purl).join(', ')}); run \`bun run sbom\``);
    }
    return pass(`${opts.sbomPath}: CycloneDX valid, ${locked.length} npm packages from bun.lock, all with pkg:npm purls`);
  },
};
