import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { startTestStack, type TestStack } from '../support/test-stack.ts';

/** An identity provider on loopback: its JWKS, and tokens signed with its key (or with others). */
const issuer = 'https://id.mc.test/realms/mc';
const audience = 'mc-api';
const signing = await generateKeyPair('RS256');
const stranger = await generateKeyPair('RS256');
const jwk: JWK = { ...(await exportJWK(signing.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
const jwks = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => Response.json({ keys: [jwk] }) });

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ MC_OIDC_ISSUER: issuer, MC_OIDC_AUDIENCE: audience, MC_OIDC_JWKS_URL: `http://127.0.0.1:${jwks.port}/jwks` }, { worker: false });
  await stack.tokenFor('viewer', 'acme');
});
afterAll(async () => {
  await stack.close();
  await jwks.stop(true);
});

const now = () => Math.floor(Date.now() / 1000);

async function jwt(claims: Record<string, unknown> = {}, opts: { key?: CryptoKey; kid?: string; iss?: string; aud?: string; exp?: number; nbf?: number } = {}) {
  let b = new SignJWT({ mc_tenant: 'acme', mc_role: 'admin', auth_time: now(), ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: opts.kid ?? 'k1' })
    .setSubject('ada')
    .setIssuer(opts.iss ?? issuer)
    .setAudience(opts.aud ?? audience)
    .setIssuedAt()
    .setExpirationTime(opts.exp ?? now() + 300);
  if (opts.nbf) b = b.setNotBefore(opts.nbf);
  return b.sign(opts.key ?? signing.privateKey);
}

const call = (token: string, method = 'GET', path = '/api/me', body?: unknown) => stack.rest(method, path, body, { authorization: `Bearer ${token}` });

describe('OIDC bearer tokens', () => {
  it('map a valid token to its tenant and role', async () => {
    const res = await call(await jwt());
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ sub: 'oidc:ada', role: 'admin', tenant: 'acme', method: 'oidc' });
  });

  const header = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const bad: [string, () => Promise<string>][] = [
    ['expired', () => jwt({}, { exp: now() - 3600 })],
    ['not yet valid', () => jwt({}, { nbf: now() + 3600 })],
    ['alg none', async () => `${header({ alg: 'none', typ: 'JWT' })}.${header({ sub: 'ada', iss: issuer, aud: audience, exp: now() + 300, mc_tenant: 'acme', mc_role: 'admin' })}.`],
    ['HS256 keyed with the public key', async () => {
      const pem = JSON.stringify(jwk);
      return new SignJWT({ mc_tenant: 'acme', mc_role: 'admin' }).setProtectedHeader({ alg: 'HS256', kid: 'k1' }).setSubject('ada').setIssuer(issuer).setAudience(audience).setExpirationTime(now() + 300).sign(new TextEncoder().encode(pem));
    }],
    ['a wrong issuer', () => jwt({}, { iss: 'https://evil.test' })],
    ['a wrong audience', () => jwt({}, { aud: 'someone-else' })],
    ['an unknown key', () => jwt({}, { key: stranger.privateKey, kid: 'k9' })],
    ['a key not in the set under a known kid', () => jwt({}, { key: stranger.privateKey })],
    ['a tenant that does not exist', () => jwt({ mc_tenant: 'ghost' })],
    ['an unknown role', () => jwt({ mc_role: 'root' })],
  ];
  for (const [what, make] of bad) {
    it(`answers 401 with a Bearer challenge to ${what}`, async () => {
      const res = await call(await make());
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toContain('Bearer');
    });
  }

  it('asks for step-up (401, insufficient_user_authentication) to publish or execute after a stale sign-in', async () => {
    const stale = await jwt({ auth_time: now() - 3600 });
    expect((await call(stale)).status).toBe(200);
    const wf = await call(stale, 'POST', '/api/workflows', { name: 'stepup', version: '1.0.0', tasks: [{ id: 't', uses: 'pkg:demo/echo@1.0.0' }] });
    expect(wf.status).toBe(201);
    const publish = await call(stale, 'POST', `/api/workflows/${wf.body.id}/publish`);
    expect(publish.status).toBe(401);
    expect(publish.headers.get('www-authenticate')).toContain('insufficient_user_authentication');
    const mfa = await jwt({ auth_time: now() - 3600, amr: ['pwd', 'mfa'] });
    expect((await call(mfa, 'POST', `/api/workflows/${wf.body.id}/publish`)).status).toBe(200);
  });
});
