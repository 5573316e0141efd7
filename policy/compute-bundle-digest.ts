/**
 * (Re)writes policy/bundles.sha256 from policy/rego/*.rego (tests excluded) and prints the
 * bundle digest that decisions and receipts carry. `--check` only compares, exiting 1 if stale.
 *
 *   bun policy/compute-bundle-digest.ts [--check]
 */
import { readFile, writeFile } from 'node:fs/promises';
import { bundleManifestPath, computeBundleManifest, digestOfManifest } from '../server/policy/bundle-digest.ts';

const manifest = await computeBundleManifest();
if (process.argv.includes('--check')) {
  const current = await readFile(bundleManifestPath, 'utf8').catch((error: unknown) => {
    process.stderr.write(`cannot read ${bundleManifestPath}: ${String(error)}\n`);
    return '';
  });
  if (current !== manifest) {
    process.stderr.write('policy/bundles.sha256 is stale: run `bun policy/compute-bundle-digest.ts`\n');
    process.exit(1);
  }
} else {
  await writeFile(bundleManifestPath, manifest);
}
process.stdout.write(`${digestOfManifest(manifest)}\n`);
