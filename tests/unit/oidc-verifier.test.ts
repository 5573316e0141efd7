import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import fc from 'fast-check';
import { createHmac } from 'node:crypto';
import { SignJWT, exportJWK, exportSPKI, generateKeyPair, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { AppError } from '../../shared/errors.ts';
import { ConfigError } from '../../shared/config.ts';
import {
  AuthError,
  createOidcVerifier,
  oidcSettingsFromEnv,
  wwwAuthenticateFor,
  type AuthErrorReason,
  type OidcIdentity,
  type OidcSettings,
  type OidcVerifier,
} from '../../server/auth/oidc-verifier.ts';

const ISSUER = 'https://idp.mc.test/realms/mc';
const AUDIENCE = 'mc-api';

interface TestKey {
  kid: string;
  alg: 'RS256' | 'ES256';
  privateKey: CryptoKey;
  publicJwk: JWK;
  publicPem: string;
}

async function makeKey(kid: string, alg: 'RS256' | 'ES256'): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, publicJwk, publicPem: await exportSPKI(publicKey) };
}

const b64url = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
const nowSec = (): number => Math.floor(Date.now() / 1000);

let rsa: TestKey;
let ec: TestKey;
let stranger: TestKey;
let jwksServer: ReturnType<typeof Bun.serve>;
let settings: OidcSettings;
let verifier: OidcVerifier;

function baseClaims(): JWTPayload {
  return { sub: 'user:alice', mc_tenant: 'acme', mc_role: 'operator' };
}

async function sign(
  key: TestKey,
  claims: JWTPayload = baseClaims(),
  opts: { iss?: string; aud?: string; exp?: number | string; nbf?: number | string; kid?: string } = {},
): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: key.alg, kid: opts.kid ?? key.kid, typ: 'JWT' })
    .setIssuer(opts.iss ?? ISSUER)
    .setAudience(opts.aud ?? AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(opts.exp ?? '5m')
    .setNotBefore(opts.nbf ?? nowSec() - 5)
    .sign(key.privateKey);
}

async function rejection(v: OidcVerifier, token: string): Promise<AuthErrorReason> {
  try {
    await v.verify(token);
  } catch (e) {
    expect(e).toBeInstanceOf(AuthError);
    const err = e as AuthError;
    // The message goes to the caller: it must never echo the token or its parts.
    for (const part of token.split('.')) if (part.length > 8) expect(err.message).not.toContain(part);
    return err.reason;
  }
  throw new Error('expected verify to reject');
}

beforeAll(async () => {
  [rsa, ec, stranger] = await Promise.all([makeKey('rsa-1', 'RS256'), makeKey('ec-1', 'ES256'), makeKey('rsa-other', 'RS256')]);
  const jwks = JSON.stringify({ keys: [rsa.publicJwk, ec.publicJwk] });
  jwksServer = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    fetch: () => new Response(jwks, { headers: { 'content-type': 'application/json' } }),
  });
  settings = {
    issuer: ISSUER,
    audience: AUDIENCE,
    jwksUrl: `http://127.0.0.1:${jwksServer.port}/jwks.json`,
    algorithms: ['RS256', 'ES256', 'PS256', 'EdDSA'],
    tenantClaim: 'mc_tenant',
    roleClaim: 'mc_role',
    clockToleranceSec: 30,
    stepUp: { maxAuthAgeSec: 300, acrValues: ['urn:mc:acr:phr'], amrValues: ['mfa', 'hwk', 'webauthn'] },
  };
  verifier = createOidcVerifier(settings);
});

afterAll(() => {
  jwksServer.stop(true);
});

describe('oidc verifier: valid tokens', () => {
  it('accepts an RS256 token and maps sub, tenant and role', async () => {
    const id = await verifier.verify(await sign(rsa, { ...baseClaims(), auth_time: 1_700_000_000, acr: 'urn:mc:acr:pwd', amr: ['pwd'] }));
    expect(id).toEqual({ sub: 'user:alice', tenant: 'acme', role: 'operator', authTime: 1_700_000_000, acr: 'urn:mc:acr:pwd', amr: ['pwd'] });
  });

  it('accepts an ES256 token', async () => {
    const id = await verifier.verify(await sign(ec, { ...baseClaims(), mc_role: 'viewer' }));
    expect(id.role).toBe('viewer');
    expect(id.authTime).toBeNull();
    expect(id.acr).toBeNull();
    expect(id.amr).toEqual([]);
  });

  it('takes the highest MC role from a role array and ignores other group names', async () => {
    const id = await verifier.verify(await sign(rsa, { ...baseClaims(), mc_role: ['viewer', 'billing', 'composer', 'operator'] }));
    expect(id.role).toBe('operator');
    const admin = await verifier.verify(await sign(rsa, { ...baseClaims(), mc_role: ['composer', 'admin'] }));
    expect(admin.role).toBe('admin');
  });

  it('reads configured tenant and role claim names', async () => {
    const v = createOidcVerifier({ ...settings, tenantClaim: 'https://mc.example/tenant', roleClaim: 'groups' });
    const id = await v.verify(await sign(rsa, { sub: 'bob', 'https://mc.example/tenant': 'globex', groups: ['composer'] }));
    expect(id).toMatchObject({ sub: 'bob', tenant: 'globex', role: 'composer' });
  });

  it('allows clock skew within the tolerance', async () => {
    const id = await verifier.verify(await sign(rsa, baseClaims(), { exp: nowSec() - 10 }));
    expect(id.sub).toBe('user:alice');
  });
});

describe('oidc verifier: rejections', () => {
  it('rejects an expired token', async () => {
    expect(await rejection(verifier, await sign(rsa, baseClaims(), { exp: nowSec() - 120, nbf: nowSec() - 600 }))).toBe('expired');
  });

  it('rejects a token that is not valid yet', async () => {
    expect(await rejection(verifier, await sign(rsa, baseClaims(), { nbf: nowSec() + 600, exp: nowSec() + 900 }))).toBe('not_yet_valid');
  });

  it('rejects an unsigned alg:none token', async () => {
    const payload = { ...baseClaims(), iss: ISSUER, aud: AUDIENCE, exp: nowSec() + 300 };
    const token = `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(payload)}.`;
    expect(await rejection(verifier, token)).toBe('bad_algorithm');
    const upper = `${b64url({ alg: 'NONE', kid: rsa.kid })}.${b64url(payload)}.`;
    expect(await rejection(verifier, upper)).toBe('bad_algorithm');
  });

  it('rejects HS256 signed with the RSA public key PEM as the HMAC secret (alg confusion)', async () => {
    const payload = { ...baseClaims(), iss: ISSUER, aud: AUDIENCE, exp: nowSec() + 300 };
    const signingInput = `${b64url({ alg: 'HS256', typ: 'JWT', kid: rsa.kid })}.${b64url(payload)}`;
    const mac = createHmac('sha256', rsa.publicPem).update(signingInput).digest('base64url');
    expect(await rejection(verifier, `${signingInput}.${mac}`)).toBe('bad_algorithm');
  });

  it('rejects an algorithm that is asymmetric but not configured', async () => {
    const strict = createOidcVerifier({ ...settings, algorithms: ['ES256'] });
    expect(await rejection(strict, await sign(rsa))).toBe('bad_algorithm');
  });

  it('rejects a wrong issuer', async () => {
    expect(await rejection(verifier, await sign(rsa, baseClaims(), { iss: 'https://evil.test' }))).toBe('bad_issuer');
    // Exact match: a trailing slash is a different issuer.
    expect(await rejection(verifier, await sign(rsa, baseClaims(), { iss: `${ISSUER}/` }))).toBe('bad_issuer');
  });

  it('rejects a wrong audience', async () => {
    expect(await rejection(verifier, await sign(rsa, baseClaims(), { aud: 'some-other-api' }))).toBe('bad_audience');
  });

  it('rejects a token signed by a key that is not in the JWKS', async () => {
    expect(await rejection(verifier, await sign(stranger))).toBe('unknown_key');
    // Same kid as a published key but a different key: the signature cannot match.
    expect(await rejection(verifier, await sign(stranger, baseClaims(), { kid: rsa.kid }))).toBe('bad_signature');
  });

  it('rejects a tampered payload', async () => {
    const [h, , s] = (await sign(rsa)).split('.');
    const forged = b64url({ ...baseClaims(), mc_role: 'admin', iss: ISSUER, aud: AUDIENCE, exp: nowSec() + 300 });
    expect(await rejection(verifier, `${h}.${forged}.${s}`)).toBe('bad_signature');
  });

  it('rejects a missing tenant claim', async () => {
    const { mc_tenant: _dropped, ...claims } = baseClaims();
    expect(await rejection(verifier, await sign(rsa, claims))).toBe('missing_claims');
    expect(await rejection(verifier, await sign(rsa, { ...baseClaims(), mc_tenant: '' }))).toBe('missing_claims');
  });

  it('rejects a missing or unknown role', async () => {
    const { mc_role: _dropped, ...claims } = baseClaims();
    expect(await rejection(verifier, await sign(rsa, claims))).toBe('missing_claims');
    expect(await rejection(verifier, await sign(rsa, { ...baseClaims(), mc_role: 'superuser' }))).toBe('missing_claims');
    expect(await rejection(verifier, await sign(rsa, { ...baseClaims(), mc_role: ['billing'] }))).toBe('missing_claims');
  });

  it('rejects a token without sub', async () => {
    const { sub: _dropped, ...claims } = baseClaims();
    expect(await rejection(verifier, await sign(rsa, claims))).toBe('missing_claims');
  });

  it('rejects a token without exp', async () => {
    const token = await new SignJWT(baseClaims())
      .setProtectedHeader({ alg: 'RS256', kid: rsa.kid })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .sign(rsa.privateKey);
    expect(await rejection(verifier, token)).toBe('missing_claims');
  });

  it('fails fast with jwks_unavailable when the JWKS server is down', async () => {
    const down = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response('') });
    const port = down.port;
    down.stop(true);
    const v = createOidcVerifier({ ...settings, jwksUrl: `http://127.0.0.1:${port}/jwks.json` }, { jwksTimeoutMs: 1_000 });
    const started = performance.now();
    const err = await v.verify(await sign(rsa)).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AuthError);
    expect((err as AuthError).reason).toBe('jwks_unavailable');
    expect((err as AuthError).code).toBe('UNAVAILABLE');
    expect(performance.now() - started).toBeLessThan(1_500);
  });

  it('reports jwks_unavailable when the JWKS endpoint answers with an error', async () => {
    const v = createOidcVerifier(settings, { fetchJwks: async () => new Response('oops', { status: 500 }) });
    expect(await rejection(v, await sign(rsa))).toBe('jwks_unavailable');
  });

  it('is an AppError with code UNAUTHORIZED for token faults', async () => {
    const err = await verifier.verify('abc').then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AppError);
    expect((err as AuthError).code).toBe('UNAUTHORIZED');
    expect((err as AuthError).reason).toBe('malformed');
  });

  it('never verifies random strings and always throws AuthError', async () => {
    const segment = fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_='.split('')) });
    const headerish = fc.constantFrom(
      b64url({ alg: 'RS256', kid: 'rsa-1' }),
      b64url({ alg: 'ES256', kid: 'ec-1' }),
      b64url({ alg: 'none' }),
      b64url({ alg: 'HS256' }),
      b64url({ alg: 'RS256', kid: 'rsa-1', crit: ['exp'] }),
    );
    const token = fc.oneof(
      fc.string(),
      fc.string({ unit: 'binary' }),
      fc.tuple(segment, segment, segment).map((p) => p.join('.')),
      fc.tuple(headerish, segment, segment).map((p) => p.join('.')),
      fc.tuple(headerish, fc.jsonValue().map(b64url), segment).map((p) => p.join('.')),
    );
    await fc.assert(
      fc.asyncProperty(token, async (t) => {
        const outcome = await verifier.verify(t).then(
          (id: OidcIdentity) => id,
          (e: unknown) => e,
        );
        expect(outcome).toBeInstanceOf(AuthError);
      }),
      { numRuns: 300 },
    );
  });
});

describe('oidc verifier: step-up', () => {
  const identity = (over: Partial<OidcIdentity>): OidcIdentity => ({
    sub: 'user:alice',
    tenant: 'acme',
    role: 'operator',
    authTime: null,
    acr: null,
    amr: [],
    ...over,
  });
  const now = 1_750_000_000;

  it('passes with a fresh auth_time', () => {
    expect(verifier.satisfiesStepUp(identity({ authTime: now - 60 }), now)).toBe(true);
    expect(verifier.satisfiesStepUp(identity({ authTime: now - 300 }), now)).toBe(true);
  });

  it('fails with a stale auth_time and no strong acr or amr', () => {
    expect(verifier.satisfiesStepUp(identity({ authTime: now - 301, acr: 'urn:mc:acr:pwd', amr: ['pwd'] }), now)).toBe(false);
    expect(verifier.satisfiesStepUp(identity({}), now)).toBe(false);
  });

  it('fails with an auth_time from the future beyond the clock tolerance', () => {
    expect(verifier.satisfiesStepUp(identity({ authTime: now + 3_600 }), now)).toBe(false);
  });

  it('passes when acr is in the configured list', () => {
    expect(verifier.satisfiesStepUp(identity({ authTime: now - 10_000, acr: 'urn:mc:acr:phr' }), now)).toBe(true);
  });

  it('passes when amr includes mfa', () => {
    expect(verifier.satisfiesStepUp(identity({ authTime: now - 10_000, amr: ['pwd', 'mfa'] }), now)).toBe(true);
  });

  it('flows from a verified token', async () => {
    const id = await verifier.verify(await sign(rsa, { ...baseClaims(), auth_time: nowSec() - 30 }));
    expect(verifier.satisfiesStepUp(id)).toBe(true);
  });
});

describe('oidc verifier: construction', () => {
  it('refuses none and HS* algorithms', () => {
    expect(() => createOidcVerifier({ ...settings, algorithms: ['RS256', 'none'] })).toThrow(ConfigError);
    expect(() => createOidcVerifier({ ...settings, algorithms: ['HS256'] })).toThrow(ConfigError);
    expect(() => createOidcVerifier({ ...settings, algorithms: ['hs512'] })).toThrow(ConfigError);
    expect(() => createOidcVerifier({ ...settings, algorithms: [] })).toThrow(ConfigError);
  });

  it('refuses a plain-http JWKS URL off loopback', () => {
    expect(() => createOidcVerifier({ ...settings, jwksUrl: 'http://idp.example/jwks.json' })).toThrow(ConfigError);
    expect(() => createOidcVerifier({ ...settings, jwksUrl: 'https://idp.example/jwks.json' })).not.toThrow();
  });
});

describe('oidc verifier: WWW-Authenticate', () => {
  it('describes an invalid token per RFC 6750', () => {
    expect(wwwAuthenticateFor('expired', settings)).toBe('Bearer error="invalid_token", error_description="The access token has expired"');
  });

  it('asks for step-up per RFC 9470 with max_age and acr_values', () => {
    const value = wwwAuthenticateFor('step_up_required', settings);
    expect(value).toStartWith('Bearer error="insufficient_user_authentication", error_description="');
    expect(value).toContain('max_age=300');
    expect(value).toContain('acr_values="urn:mc:acr:phr"');
    const noAcr = wwwAuthenticateFor('step_up_required', { ...settings, stepUp: { ...settings.stepUp, acrValues: [] } });
    expect(noAcr).not.toContain('acr_values');
  });
});

describe('oidc settings from env', () => {
  it('is off when MC_OIDC_ISSUER is unset', () => {
    expect(oidcSettingsFromEnv({})).toBeNull();
  });

  it('applies defaults', () => {
    const s = oidcSettingsFromEnv({ MC_OIDC_ISSUER: 'https://idp.example/', MC_OIDC_AUDIENCE: 'mc-api' });
    expect(s).toEqual({
      issuer: 'https://idp.example/',
      audience: 'mc-api',
      jwksUrl: 'https://idp.example/.well-known/jwks.json',
      algorithms: ['RS256', 'ES256', 'PS256', 'EdDSA'],
      tenantClaim: 'mc_tenant',
      roleClaim: 'mc_role',
      clockToleranceSec: 30,
      stepUp: { maxAuthAgeSec: 300, acrValues: [], amrValues: ['mfa', 'hwk', 'webauthn'] },
    });
  });

  it('reads overrides and refuses HS256 naming the variable', () => {
    const s = oidcSettingsFromEnv({
      MC_OIDC_ISSUER: 'https://idp.example',
      MC_OIDC_AUDIENCE: 'mc',
      MC_OIDC_JWKS_URL: 'https://idp.example/certs',
      MC_OIDC_ALGORITHMS: 'ES256, EdDSA',
      MC_OIDC_STEPUP_MAX_AGE_SEC: '120',
      MC_OIDC_STEPUP_ACR: 'phr,phrh',
      MC_OIDC_STEPUP_AMR: 'hwk',
    });
    expect(s).toMatchObject({ jwksUrl: 'https://idp.example/certs', algorithms: ['ES256', 'EdDSA'], stepUp: { maxAuthAgeSec: 120, acrValues: ['phr', 'phrh'], amrValues: ['hwk'] } });
    expect(() => oidcSettingsFromEnv({ MC_OIDC_ISSUER: 'https://i', MC_OIDC_AUDIENCE: 'a', MC_OIDC_ALGORITHMS: 'RS256,HS256' })).toThrow(/MC_OIDC_ALGORITHMS/);
  });
});
