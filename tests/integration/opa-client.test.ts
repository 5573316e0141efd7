import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { readFileSync } from 'node:fs';
import { packInputSchemas, policyPacks, type PolicyPack } from '@mc/shared/policy';
import { evaluatePack } from '@mc/server/policy/embedded-engine';
import type { PackInput } from '@mc/server/policy/packs/pack-input';
import { createPdp, type Pdp } from '@mc/server/policy/pdp';

/**
 * The OPA backend over real HTTP. The peer is a local Bun.serve speaking OPA's Data API; when
 * it answers properly it computes the answer with the embedded engine (OPA itself cannot run on
 * this machine: see docs/policy/README.md). Every other behaviour of the peer — slow, stalled,
 * erroring, talking nonsense, gone — must come back as a deny with `pdp_unavailable`.
 */
const TIMEOUT_MS = 150;

type Misbehaviour = (pack: PolicyPack) => Response | Promise<Response>;
const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

const misbehaviours: Record<string, Misbehaviour> = {
  'answers after the timeout': async () => {
    await Bun.sleep(TIMEOUT_MS * 4);
    return json({ result: { allow: true, reasons: [] } });
  },
  'sends headers then stalls the body': () =>
    new Response(
      new ReadableStream({
        async start(controller) {
          controller.enqueue(new TextEncoder().encode('{"result": {"allow": tr'));
          await Bun.sleep(TIMEOUT_MS * 4);
          controller.enqueue(new TextEncoder().encode('ue, "reasons": []}}'));
          controller.close();
        },
      }),
      { headers: { 'content-type': 'application/json' } },
    ),
  'returns 500': () => json({ code: 'internal_error', message: 'boom' }, 500),
  'returns 404': () => json({ code: 'resource_not_found' }, 404),
  'returns 204 No Content': () => new Response(null, { status: 204 }),
  'returns non-JSON': () => new Response('<html>allow</html>', { headers: { 'content-type': 'text/html' } }),
  'returns truncated JSON': () => new Response('{"result": {"allow": true,'),
  'returns JSON without result (pack not loaded)': () => json({}),
  'returns null': () => json(null),
  'returns a result that is not an object': () => json({ result: true }),
  'returns allow as a string': () => json({ result: { allow: 'true', reasons: [] } }),
  'returns allow without reasons': () => json({ result: { allow: true } }),
  'returns reasons that are not strings': () => json({ result: { allow: true, reasons: [1, null] } }),
  'returns reasons as an object': () => json({ result: { allow: true, reasons: { a: 1 } } }),
  'returns an empty body': () => new Response(''),
};
const scenarioNames = Object.keys(misbehaviours);

let server: ReturnType<typeof Bun.serve>;
let closedPortUrl: string;
const requestsSeen: string[] = [];

/** OPA's answer for a valid input: exactly what policy/rego would say, by the fixtures. */
async function honestAnswer(pack: PolicyPack, request: Request): Promise<Response> {
  const body = (await request.json()) as { input: unknown };
  const parsed = packInputSchemas[pack].safeParse(body.input);
  // The PDP validates before asking; a real OPA would still answer, here from the Rego guards.
  if (!parsed.success) return json({ result: { allow: false, reasons: ['invalid_input'] } });
  return json({ result: evaluatePack(pack, body.input as PackInput<typeof pack>) });
}

beforeAll(async () => {
  server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(request) {
      const url = new URL(request.url);
      requestsSeen.push(url.pathname);
      // /<scenario>/v1/data/mc/<pack>
      const match = /^\/([^/]+)\/v1\/data\/mc\/([a-z]+)$/.exec(url.pathname);
      const scenario = match?.[1] === undefined ? undefined : decodeURIComponent(match[1]);
      const pack = policyPacks.find((p) => p === match?.[2]);
      if (request.method !== 'POST' || scenario === undefined || pack === undefined) return json({}, 404);
      if (scenario === 'honest') return honestAnswer(pack, request);
      if (scenario === 'contradictory') return json({ result: { allow: true, reasons: ['residency_mismatch'] } });
      if (scenario === 'silent-deny') return json({ result: { allow: false, reasons: [] } });
      const misbehave = misbehaviours[scenario];
      return misbehave === undefined ? json({}, 404) : misbehave(pack);
    },
  });
  // A port that was just listening and now refuses connections.
  const gone = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response('') });
  closedPortUrl = `http://127.0.0.1:${gone.port}/v1/data`;
  await gone.stop(true);
});

afterAll(async () => {
  await server.stop(true);
});

const opaPdp = (scenario: string): Pdp =>
  createPdp({
    backend: 'opa',
    opaUrl: `http://127.0.0.1:${server.port}/${encodeURIComponent(scenario)}/v1/data/`,
    timeoutMs: TIMEOUT_MS,
    logger: { warn: () => undefined },
  });

type Fixture = { name: string; input: unknown; expected: { allow: boolean; reasons: string[] } };
const loadFixtures = (pack: PolicyPack): Fixture[] =>
  JSON.parse(readFileSync(new URL(`../../policy/fixtures/${pack}.json`, import.meta.url), 'utf8')) as Fixture[];
const allowedAccess = { action: 'execute', actor: { sub: 'user-1', role: 'operator' } };

describe('OPA backend: a peer that answers', () => {
  it('answers every pack’s fixtures as the fixtures say', async () => {
    const pdp = opaPdp('honest');
    for (const pack of policyPacks) {
      for (const fixture of loadFixtures(pack)) {
        const decision = await pdp.decide(pack, fixture.input);
        expect({ name: fixture.name, allow: decision.allow, reasons: decision.reasons }).toEqual({
          name: fixture.name,
          allow: fixture.expected.allow,
          reasons: [...fixture.expected.reasons].sort(),
        });
        expect(decision.backend).toBe('opa');
      }
    }
  });

  it('posts {input} to {OPA_URL}/mc/<pack>, trailing slash or not', async () => {
    requestsSeen.length = 0;
    await opaPdp('honest').decide('freeze', { ...allowedAccess, freeze: { active: false, isRollback: false } });
    expect(requestsSeen).toEqual(['/honest/v1/data/mc/freeze']);
  });

  it('does not ask OPA about input that is invalid for the pack', async () => {
    requestsSeen.length = 0;
    const decision = await opaPdp('honest').decide('budget', allowedAccess);
    expect(decision).toMatchObject({ allow: false, reasons: ['invalid_input'] });
    expect(requestsSeen).toEqual([]);
  });

  it('denies when OPA says allow but also gives reasons', async () => {
    const decision = await opaPdp('contradictory').decide('access', allowedAccess);
    expect(decision).toMatchObject({ allow: false, reasons: ['residency_mismatch'] });
  });

  it('denies with a reason when OPA denies without one', async () => {
    const decision = await opaPdp('silent-deny').decide('access', allowedAccess);
    expect(decision).toMatchObject({ allow: false, reasons: ['denied_without_reason'] });
  });
});

describe('OPA backend: a peer that does not answer is a deny with pdp_unavailable', () => {
  for (const scenario of scenarioNames) {
    it(`when OPA ${scenario}`, async () => {
      const started = performance.now();
      const decision = await opaPdp(scenario).decide('access', allowedAccess);
      expect(decision).toMatchObject({ allow: false, reasons: ['pdp_unavailable'], pack: 'access', backend: 'opa' });
      // The timeout bounds the whole round trip, stalled bodies included.
      expect(performance.now() - started).toBeLessThan(TIMEOUT_MS * 3);
    });
  }

  it('when the connection is refused', async () => {
    const pdp = createPdp({ backend: 'opa', opaUrl: closedPortUrl, timeoutMs: TIMEOUT_MS, logger: { warn: () => undefined } });
    const decision = await pdp.decide('access', allowedAccess);
    expect(decision).toMatchObject({ allow: false, reasons: ['pdp_unavailable'] });
  });

  it('tells the logger why, without the input', async () => {
    const warnings: object[] = [];
    const pdp = createPdp({
      backend: 'opa',
      opaUrl: `http://127.0.0.1:${server.port}/returns%20500/v1/data`,
      timeoutMs: TIMEOUT_MS,
      logger: { warn: (details) => warnings.push(details) },
    });
    await pdp.decide('access', { ...allowedAccess, actor: { sub: 'jane.doe@example.com', role: 'operator' } });
    expect(warnings).toEqual([{ pack: 'access', cause: 'status 500' }]);
  });

  it('refuses to start as opa without OPA_URL', () => {
    expect(() => createPdp({ backend: 'opa', timeoutMs: 200 })).toThrow('OPA_URL');
  });
});
