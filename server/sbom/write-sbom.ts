import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { buildMcSbom, mcPackages, sbomPath, sbomSchemaProblems } from './mc-sbom.ts';

/** `bun run sbom`: writes MC's CycloneDX SBOM to dist/sbom.json (gitignored), validated before it is written. */
const text = buildMcSbom();
const problems = await sbomSchemaProblems(text);
if (problems.length > 0) {
  console.error(`the generated SBOM does not validate:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
mkdirSync(dirname(sbomPath), { recursive: true });
writeFileSync(sbomPath, text);
const packages = mcPackages();
console.log(`wrote ${sbomPath}: ${packages.length} npm packages (${packages.filter((p) => !p.devOnly).length} runtime, ${packages.filter((p) => p.devOnly).length} dev-only)`);
