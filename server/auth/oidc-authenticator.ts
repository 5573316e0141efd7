import type { Config } from '@mc/shared/config';
import type { OidcAuthenticator } from '../deps.ts';
import { createOidcVerifier, oidcSettingsFromEnv, wwwAuthenticateFor, type OidcIdentity } from './oidc-verifier.ts';

/** The OIDC verifier shaped for `authenticate`, or null when OIDC is not configured. */
export function createOidcAuthenticator(config: Config): OidcAuthenticator | null {
  const oidcVars = Object.fromEntries(Object.entries(config).filter(([k, v]) => k.startsWith('MC_OIDC_') && typeof v === 'string')) as Record<string, string>;
  const settings = oidcSettingsFromEnv(oidcVars);
  if (!settings) return null;
  const verifier = createOidcVerifier(settings);
  return {
    verify: (token) => verifier.verify(token),
    satisfiesStepUp: (identity) => verifier.satisfiesStepUp(identity as OidcIdentity),
    stepUpChallenge: () => wwwAuthenticateFor('step_up_required', settings),
  };
}
