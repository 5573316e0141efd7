import { describe, expect, it } from 'bun:test';
import { readdirSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { piiKinds, piiPatternSources } from '@mc/shared/pii-detection';
import { policyPacks, policyVerdictSchema, type PolicyPack } from '@mc/shared/policy';
import { bundleManifestPath, computeBundleManifest, isPackFile } from '@mc/server/policy/bundle-digest';
import { createPdp } from '@mc/server/policy/pdp';

/**
 * policy/fixtures/<pack>.json is the contract both PDP backends meet. Embedded by default; with
 * `MC_PDP=opa OPA_URL=http://127.0.0.1:8181/v1/data` the same fixtures run against a real OPA
 * serving policy/rego (docs/policy/README.md).
 */
const fixtureSchema = z.array(z.object({ name: z.string().min(1), input: z.unknown(), expected: policyVerdictSchema }));
type Fixture = z.infer<typeof fixtureSchema>[number];

const policyRoot = new URL('../../policy/', import.meta.url);
// JSON.parse, not `import`: fixtures with a `__proto__` key must keep it as an own property.
const loadFixtures = (pack: PolicyPack): Fixture[] =>
  fixtureSchema.parse(JSON.parse(readFileSync(new URL(`fixtures/${pack}.json`, policyRoot), 'utf8')));
const fixtures = Object.fromEntries(policyPacks.map((pack) => [pack, loadFixtures(pack)])) as Record<PolicyPack, Fixture[]>;

const backend = process.env.MC_PDP === 'opa' ? 'opa' : 'embedded';
const pdp = createPdp({
  backend,
  opaUrl: process.env.OPA_URL,
  // A real OPA on a shared CI box gets more slack than production's 200 ms.
  timeoutMs: Number(process.env.MC_PDP_TIMEOUT_MS ?? 2000),
});

for (const pack of policyPacks) {
  describe(`policy pack ${pack} (${backend})`, () => {
    for (const fixture of fixtures[pack]) {
      it(fixture.name, async () => {
        const decision = await pdp.decide(pack, fixture.input);
        expect({ allow: decision.allow, reasons: decision.reasons }).toEqual({
          allow: fixture.expected.allow,
          reasons: [...fixture.expected.reasons].sort(),
        });
        expect(decision.pack).toBe(pack);
        expect(decision.bundleDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
      });
    }
  });
}

describe('policy fixtures', () => {
  const reasonsOf = (pack: PolicyPack) => fixtures[pack].flatMap((f) => f.expected.reasons);

  it('have an allow case and an invalid_input case for every pack', () => {
    for (const pack of policyPacks) {
      expect(fixtures[pack].some((f) => f.expected.allow)).toBe(true);
      expect(reasonsOf(pack)).toContain('invalid_input');
    }
  });

  it('cover every deny reason of every pack', () => {
    const expectedPrefixes: Record<PolicyPack, string[]> = {
      access: ['operator', 'composer', 'viewer'].map((role) => `action_not_permitted:${role}:`),
      pii: piiKinds.map((kind) => `pii_detected:${kind}@`),
      residency: ['residency_mismatch'],
      budget: ['run_budget_exceeded', 'tenant_budget_exceeded'],
      freeze: ['change_freeze'],
    };
    for (const pack of policyPacks) {
      for (const prefix of expectedPrefixes[pack]) {
        expect({ pack, covered: reasonsOf(pack).some((r) => r.startsWith(prefix)) }).toEqual({ pack, covered: true });
      }
    }
  });
});

describe('policy bundle', () => {
  it('policy/bundles.sha256 matches the rego packs (run `bun policy/compute-bundle-digest.ts` after editing them)', async () => {
    expect(readFileSync(bundleManifestPath, 'utf8')).toBe(await computeBundleManifest());
  });

  it('has a *_test.rego beside every pack, and a pack for every PDP pack name', () => {
    const files = readdirSync(new URL('rego/', policyRoot));
    const packs = files.filter(isPackFile).map((f) => f.replace(/\.rego$/, '')).sort();
    expect(packs).toEqual([...policyPacks].sort());
    for (const pack of packs) expect(files).toContain(`${pack}_test.rego`);
  });

  it('pii.rego uses the very patterns of shared/pii-detection.ts', () => {
    const rego = readFileSync(new URL('rego/pii.rego', policyRoot), 'utf8');
    for (const kind of piiKinds) expect(rego).toContain(`${kind}_pattern := \`${piiPatternSources[kind]}\``);
  });
});
