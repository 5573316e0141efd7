import { describe, expect, it } from 'bun:test';
import fc from 'fast-check';
import { packInputSchemas, policyPacks, type PolicyDecision, type PolicyPack } from '@mc/shared/policy';
import { evaluatePack } from '@mc/server/policy/embedded-engine';
import type { PackInput } from '@mc/server/policy/packs/pack-input';
import { createPdp } from '@mc/server/policy/pdp';

/**
 * `decide` is total and fail-closed: whatever it is handed, it resolves to a decision, and it
 * never allows an input its pack's schema rejects. (Embedded backend; the OPA backend shares the
 * same admission step and tests/integration/opa-client.test.ts covers its transport.)
 */
const pdp = createPdp({ backend: 'embedded', timeoutMs: 200 });
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** The schema is the spec of validity; checked on the JSON form, as the PDP sees it. */
function schemaAccepts(pack: PolicyPack, input: unknown): boolean {
  try {
    const json = JSON.stringify(input);
    return json !== undefined && packInputSchemas[pack].safeParse(JSON.parse(json)).success;
  } catch {
    // Not JSON data (cycles, bigint, hostile getters): invalid by definition.
    return false;
  }
}

function expectWellFormed(decision: PolicyDecision): void {
  expect(decision.decisionId).toMatch(uuid);
  expect(decision.latencyMs).toBeGreaterThanOrEqual(0);
  if (decision.allow) expect(decision.reasons).toEqual([]);
  else expect(decision.reasons.length).toBeGreaterThan(0);
}

const packArb = fc.constantFrom(...policyPacks);
const hugeString = fc.integer({ min: 10_000, max: 300_000 }).map((n) => 'x'.repeat(n));
const protoJunk = fc.jsonValue().map((v) => JSON.parse(`{"__proto__": ${JSON.stringify(v)}, "constructor": {"prototype": {"polluted": true}}}`) as unknown);
const junk = fc.oneof(
  fc.anything({ withBigInt: true, withDate: true, withTypedArray: true, withNullPrototype: true, withSparseArray: true, withBoxedValues: true, withMap: true, withSet: true }),
  hugeString,
  protoJunk,
);

/** Inputs valid for every pack at once, so a mutation decides which pack they break. */
const validInput = fc.record({
  action: fc.constantFrom('read', 'plan', 'create', 'publish', 'execute', 'admin'),
  actor: fc.record({ sub: fc.string({ minLength: 1, maxLength: 30 }), role: fc.constantFrom('admin', 'operator', 'composer', 'viewer', 'guest') }),
  workflow: fc.record({
    name: fc.string({ minLength: 1, maxLength: 30 }),
    version: fc.nat(),
    region: fc.constantFrom('us', 'eu', 'ap-south'),
    dataClassification: fc.constantFrom('public', 'internal', 'sensitive', 'regulated'),
    defaults: fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 3 })),
  }),
  request: fc.record({ region: fc.constantFrom('us', 'eu', 'ap-south'), inputs: fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 3 })) }),
  budget: fc.record({
    runCostUsd: fc.double({ min: 0, max: 100, noNaN: true }),
    perRunLimitUsd: fc.double({ min: 0, max: 100, noNaN: true }),
    tenantWindowCostUsd: fc.double({ min: 0, max: 1000, noNaN: true }),
    tenantWindowLimitUsd: fc.double({ min: 0, max: 1000, noNaN: true }),
    windowHours: fc.integer({ min: 1, max: 720 }),
  }),
  freeze: fc.record({ active: fc.boolean(), isRollback: fc.boolean() }),
});

/** Fields each pack requires, and values of the wrong type or range for each. */
const requiredFields: Record<PolicyPack, string[][]> = {
  access: [['action'], ['actor'], ['actor', 'sub'], ['actor', 'role']],
  pii: [['action'], ['actor'], ['workflow'], ['workflow', 'name'], ['workflow', 'region'], ['workflow', 'dataClassification']],
  residency: [['action'], ['workflow'], ['workflow', 'region'], ['request'], ['request', 'region']],
  budget: [['action'], ['budget'], ['budget', 'runCostUsd'], ['budget', 'perRunLimitUsd'], ['budget', 'tenantWindowCostUsd'], ['budget', 'tenantWindowLimitUsd'], ['budget', 'windowHours']],
  freeze: [['action'], ['actor'], ['freeze'], ['freeze', 'active'], ['freeze', 'isRollback']],
};
/** Wrong for every required field above: none may be absent, null, an array, empty, negative or an object of junk. */
const breaking = fc.oneof(
  fc.constant<unknown>(undefined),
  fc.constant<unknown>(null),
  fc.constant<unknown>([]),
  fc.constant<unknown>(-1),
  fc.constant<unknown>(''),
  protoJunk,
);

function withField(input: Record<string, unknown>, path: string[], value: unknown): Record<string, unknown> {
  const copy = structuredClone(input);
  let target: Record<string, unknown> = copy;
  for (const key of path.slice(0, -1)) target = target[key] as Record<string, unknown>;
  const last = path[path.length - 1] ?? '';
  if (value === undefined) delete target[last];
  else target[last] = value;
  return copy;
}

describe('pdp.decide under fuzzing', () => {
  it('never throws and never allows what the pack schema rejects (1,000 junk inputs)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(packArb, fc.string()), junk, async (pack, input) => {
        const decision = await pdp.decide(pack as PolicyPack, input);
        expectWellFormed(decision);
        const valid = (policyPacks as readonly string[]).includes(pack) && schemaAccepts(pack as PolicyPack, input);
        if (!valid) expect(decision).toMatchObject({ allow: false, reasons: ['invalid_input'] });
      }),
      { numRuns: 1000 },
    );
  });

  it('denies invalid_input when a required field is missing or mistyped (500 inputs)', async () => {
    const mutated = packArb.chain((pack) =>
      fc.tuple(fc.constant(pack), validInput, fc.constantFrom(...requiredFields[pack]), breaking),
    );
    await fc.assert(
      fc.asyncProperty(mutated, async ([pack, input, path, value]) => {
        const decision = await pdp.decide(pack, withField(input, path, value));
        expect(decision).toMatchObject({ allow: false, reasons: ['invalid_input'] });
      }),
      { numRuns: 500 },
    );
  });

  it('decides valid inputs without pdp_error (500 inputs)', async () => {
    await fc.assert(
      fc.asyncProperty(packArb, validInput, async (pack, input) => {
        const decision = await pdp.decide(pack, input);
        expectWellFormed(decision);
        expect(decision.reasons).not.toContain('invalid_input');
        expect(decision.reasons).not.toContain('pdp_error');
      }),
      { numRuns: 500 },
    );
  });

  it('finds PII hidden under __proto__ keys at any depth (300 inputs)', async () => {
    const nestedKeys = fc.array(fc.constantFrom('__proto__', 'constructor', 'prototype', 'a'), { minLength: 1, maxLength: 6 });
    await fc.assert(
      fc.asyncProperty(validInput, nestedKeys, fc.constantFrom('public', 'internal', 'sensitive'), async (input, keys, classification) => {
        // Built as text so every `__proto__` is an own key, as it is when a request body is parsed.
        const nested = keys.reduceRight((inner, key) => `{${JSON.stringify(key)}: ${inner}}`, '"write to jane.doe@example.com"');
        const inputs = JSON.parse(nested) as Record<string, unknown>;
        const workflow = { ...input.workflow, dataClassification: classification };
        const decision = await pdp.decide('pii', { ...input, workflow, request: { ...input.request, inputs } });
        expect(decision.allow).toBe(false);
        expect(decision.reasons).toContain(`pii_detected:email@request.inputs.${keys.join('.')}`);
      }),
      { numRuns: 300 },
    );
    expect(Object.prototype).not.toHaveProperty('polluted');
  });
});

describe('pdp.decide on hostile shapes', () => {
  const valid = { action: 'execute', actor: { sub: 'u', role: 'operator' } };

  it('denies cycles, throwing getters, proxies and bigints as invalid_input', async () => {
    const cyclic: Record<string, unknown> = { ...valid };
    cyclic.self = cyclic;
    const getter = { ...valid, get actor(): never { throw new Error('boom'); } };
    const proxy = new Proxy(valid, { ownKeys: () => { throw new Error('trap'); } });
    for (const input of [cyclic, getter, proxy, { ...valid, n: 1n }]) {
      expect(await pdp.decide('access', input)).toMatchObject({ allow: false, reasons: ['invalid_input'] });
    }
  });

  it('denies input over the size cap, and decides deep nesting without overflowing', async () => {
    const workflow = { name: 'w', version: 1, region: 'us', dataClassification: 'internal' };
    const huge = { ...valid, workflow, request: { region: 'us', inputs: { blob: 'x'.repeat(3 * 1024 * 1024) } } };
    expect(await pdp.decide('pii', huge)).toMatchObject({ allow: false, reasons: ['invalid_input'] });

    let deep: unknown = 'call 415-555-2671';
    for (let i = 0; i < 2_000; i++) deep = [deep];
    const decision = await pdp.decide('pii', { ...valid, workflow, request: { region: 'us', inputs: { deep } } });
    expect(decision.allow).toBe(false);
    expect(decision.reasons).toHaveLength(1);
    expect(decision.reasons[0]).toStartWith('pii_detected:phone@request.inputs.deep.0.0.0');

    let tooDeep: unknown = 'x';
    for (let i = 0; i < 1_000_000; i++) tooDeep = [tooDeep];
    const refused = await pdp.decide('pii', { ...valid, workflow, request: { region: 'us', inputs: { tooDeep } } });
    expect(refused.allow).toBe(false);
  });

  it('denies an unknown pack as invalid_input', async () => {
    expect(await pdp.decide('nope' as PolicyPack, valid)).toMatchObject({ allow: false, reasons: ['invalid_input'] });
  });

  it('turns an exception inside the embedded engine into a deny with pdp_error', () => {
    // Input the PDP would never admit: the budget pack dereferences the missing `budget`.
    expect(evaluatePack('budget', {} as PackInput<'budget'>)).toEqual({ allow: false, reasons: ['pdp_error'] });
  });

  it('denies with pdp_error when the bundle digest cannot be read', async () => {
    const broken = createPdp({ backend: 'embedded', timeoutMs: 200, bundleDigest: () => Promise.reject(new Error('gone')) });
    expect(await broken.decide('access', valid)).toMatchObject({ allow: false, reasons: ['pdp_error'], bundleDigest: 'unknown' });
  });
});
