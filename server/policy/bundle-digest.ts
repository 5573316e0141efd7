import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { sha256Hex } from '@mc/shared/canonical-json';

/**
 * Which policy text decided (spec §14: disclosure packs carry policy/bundles.sha256). The file
 * lists `<sha256>  rego/<pack>.rego` for each pack (not the *_test.rego files, which decide
 * nothing); its own sha256 is the bundle digest written into receipts and decisions. The
 * embedded engine reports the same digest: policy/fixtures prove it answers as the Rego does.
 */
export const policyDir = fileURLToPath(new URL('../../policy/', import.meta.url));
export const bundleManifestPath = join(policyDir, 'bundles.sha256');

const manifestLine = /^[0-9a-f]{64} {2}rego\/[A-Za-z0-9_.-]+\.rego$/;

export function isPackFile(name: string): boolean {
  return name.endsWith('.rego') && !name.endsWith('_test.rego');
}

/** The manifest text for the .rego packs under `dir`/rego, sorted by name, as sha256sum writes it. */
export async function computeBundleManifest(dir = policyDir): Promise<string> {
  const files = (await readdir(join(dir, 'rego'))).filter(isPackFile).sort();
  const lines = await Promise.all(files.map(async (f) => `${sha256Hex(await readFile(join(dir, 'rego', f)))}  rego/${f}`));
  return `${lines.join('\n')}\n`;
}

export function digestOfManifest(text: string): string {
  return `sha256:${sha256Hex(text)}`;
}

/** Reads policy/bundles.sha256; rejects if it is missing, empty or not in sha256sum form. */
export async function policyBundleDigest(path = bundleManifestPath): Promise<string> {
  const text = await readFile(path, 'utf8');
  const lines = text.split('\n').filter((l) => l !== '');
  if (lines.length === 0 || !lines.every((l) => manifestLine.test(l))) {
    throw new Error(`${path} is not a sha256sum listing of rego/*.rego`);
  }
  return digestOfManifest(text);
}
