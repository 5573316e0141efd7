import type { Actor } from '@mc/shared/actor';
import { AppError } from '@mc/shared/errors';
import type { Deps } from '../deps.ts';
import { findTenantByName, findTokenByHash, touchToken } from '../identity/repository.ts';
import { defaultTenantName, hashToken } from '../identity/service.ts';

const bearerChallenge = (error: string, description: string) => `Bearer realm="mc", error="${error}", error_description="${description}"`;

function unauthorized(message: string, error = 'invalid_token'): AppError {
  return new AppError('UNAUTHORIZED', message, { wwwAuthenticate: bearerChallenge(error, message) });
}

/**
 * Who is calling: an MC API token (`mc_…`), an OIDC bearer JWT (when `MC_OIDC_ISSUER` is set),
 * or — only when `MC_ANONYMOUS_ROLE` is set — the anonymous caller. Anything else is 401 with a
 * `WWW-Authenticate` challenge; the message never echoes the credential.
 */
export async function authenticate(deps: Deps, request: Request, ip: string | undefined): Promise<Actor> {
  const header = request.headers.get('authorization');
  const withIp = ip ? { ip } : {};
  if (!header) {
    const role = deps.config.MC_ANONYMOUS_ROLE;
    if (!role) throw unauthorized('sign in: send `Authorization: Bearer <token>` (an MC API token or an OIDC access token)', 'invalid_request');
    const tenant = await findTenantByName(deps.db, defaultTenantName);
    if (!tenant) throw new AppError('UNAVAILABLE', 'identity is not bootstrapped yet; retry shortly', { retryAfterSeconds: 1 });
    return { sub: 'anonymous', role, tenantId: tenant.id, tenantName: tenant.name, method: 'anonymous', stepUp: true, ...withIp };
  }
  const match = /^Bearer\s+(\S+)$/i.exec(header.trim());
  if (!match) throw unauthorized('the Authorization header must be `Bearer <token>`', 'invalid_request');
  const credential = match[1]!;

  if (credential.startsWith('mc_')) {
    const found = await findTokenByHash(deps.db, hashToken(credential));
    if (!found) throw unauthorized('unknown API token');
    const { token, tenant } = found;
    if (token.revokedAt) throw unauthorized('this API token was revoked');
    if (token.expiresAt && token.expiresAt.getTime() <= Date.now()) throw unauthorized('this API token has expired');
    if (tenant.deletedAt) throw unauthorized('the tenant of this API token was deleted');
    void touchToken(deps.db, token.id).catch((err: unknown) => deps.logger.debug({ err }, 'could not record token use'));
    return { sub: `token:${token.id}`, role: token.role, tenantId: tenant.id, tenantName: tenant.name, method: 'token', stepUp: true, tokenId: token.id, ...withIp };
  }

  if (deps.oidc) {
    const identity = await deps.oidc.verify(credential);
    const tenant = await findTenantByName(deps.db, identity.tenant);
    if (!tenant || tenant.deletedAt) throw unauthorized('the tenant named by this token does not exist');
    return {
      sub: `oidc:${identity.sub}`,
      role: identity.role,
      tenantId: tenant.id,
      tenantName: tenant.name,
      method: 'oidc',
      stepUp: deps.oidc.satisfiesStepUp(identity),
      ...withIp,
    };
  }
  throw unauthorized('unknown credential: not an MC API token, and OIDC is not configured');
}
