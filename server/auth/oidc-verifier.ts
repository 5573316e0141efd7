import { AppError } from '@mc/shared/errors';
import { ConfigError } from '@mc/shared/config';
import { roleSchema, type Role } from '@mc/shared/actor';
import {
  createRemoteJWKSet,
  customFetch,
  decodeProtectedHeader,
  errors as joseErrors,
  jwtVerify,
  type FetchImplementation,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import { z } from 'zod';

/**
 * Verifies OIDC bearer tokens (JWT access or ID tokens) for MC's identity layer: signature
 * against the issuer's JWKS, `iss`, `aud`, `exp`/`nbf`, then maps the tenant and role claims.
 * Threat model (engineering kit §1, Spoofing): OIDC plus step-up for publish and execute.
 *
 * Every failure is one `AuthError` whose message is safe to return to the caller: it names the
 * reason, never the token, its claims or the library's wording.
 */

export interface OidcSettings {
  /** MC_OIDC_ISSUER: compared exactly with the token's `iss`. */
  issuer: string;
  /** MC_OIDC_AUDIENCE: must appear in the token's `aud`. */
  audience: string;
  /** MC_OIDC_JWKS_URL, else `${issuer}/.well-known/jwks.json`. */
  jwksUrl: string;
  /** MC_OIDC_ALGORITHMS. Asymmetric only: `none` and HS* are refused at construction. */
  algorithms: string[];
  /** MC_OIDC_TENANT_CLAIM: top-level claim holding the tenant id. */
  tenantClaim: string;
  /** MC_OIDC_ROLE_CLAIM: a role name, or an array of names of which the highest wins. */
  roleClaim: string;
  clockToleranceSec: number;
  stepUp: { maxAuthAgeSec: number; acrValues: string[]; amrValues: string[] };
}

export interface OidcIdentity {
  sub: string;
  tenant: string;
  role: Role;
  /** `auth_time` in seconds since the epoch, when the IdP sent it. */
  authTime: number | null;
  acr: string | null;
  amr: string[];
}

export const authErrorReasons = [
  'expired',
  'not_yet_valid',
  'bad_signature',
  'unknown_key',
  'bad_issuer',
  'bad_audience',
  'bad_algorithm',
  'malformed',
  'missing_claims',
  'jwks_unavailable',
] as const;
export type AuthErrorReason = (typeof authErrorReasons)[number];

/** Fixed, caller-safe wording per reason; also the RFC 6750 `error_description`. */
const reasonMessages: Record<AuthErrorReason, string> = {
  expired: 'The access token has expired',
  not_yet_valid: 'The access token is not valid yet',
  bad_signature: 'The access token signature is invalid',
  unknown_key: 'The access token was signed by an unknown key',
  bad_issuer: 'The access token was issued by an untrusted issuer',
  bad_audience: 'The access token is not intended for this service',
  bad_algorithm: 'The access token uses a disallowed signing algorithm',
  malformed: 'The access token is malformed',
  missing_claims: 'The access token lacks required claims',
  jwks_unavailable: 'The identity provider keys are unavailable; try again later',
};

/**
 * The one error `verify` throws. An `AppError` so the shared error mapper turns it into 401
 * (`UNAUTHORIZED`), or 503 (`UNAVAILABLE`) when the IdP's keys could not be fetched: that is
 * our outage, not the caller's bad token.
 */
export class AuthError extends AppError {
  readonly reason: AuthErrorReason;

  constructor(reason: AuthErrorReason, opts: { cause?: unknown } = {}) {
    super(reason === 'jwks_unavailable' ? 'UNAVAILABLE' : 'UNAUTHORIZED', reasonMessages[reason], {
      details: { reason },
      ...(reason === 'jwks_unavailable' ? { retryAfterSeconds: 5 } : { wwwAuthenticate: `Bearer realm="mc", error="invalid_token", error_description="${reasonMessages[reason]}"` }),
      ...(opts.cause === undefined ? {} : { cause: opts.cause }),
    });
    this.name = 'AuthError';
    this.reason = reason;
  }
}

export function isAuthError(e: unknown): e is AuthError {
  return e instanceof AuthError;
}

export const DEFAULT_ALGORITHMS = ['RS256', 'ES256', 'PS256', 'EdDSA'] as const;
export const DEFAULT_STEP_UP_AMR = ['mfa', 'hwk', 'webauthn'] as const;

/** Highest first: a role array maps to its first match here. */
const roleRank: readonly Role[] = ['admin', 'operator', 'composer', 'viewer'];

/** Tokens bigger than this are refused before any parsing or key fetch. */
const MAX_TOKEN_CHARS = 16_384;

/** Symmetric and unsigned algorithms: with a public JWKS they enable forgery (alg confusion). */
function isForbiddenAlgorithm(alg: string): boolean {
  const a = alg.trim().toUpperCase();
  return a === 'NONE' || a.startsWith('HS') || a === '';
}

/** Asymmetric JWS algorithms jose verifies; anything else in settings is a typo or a downgrade. */
const SUPPORTED_ALGORITHMS = new Set(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519']);

/** Header-parameter token chars (RFC 9110 tchar): safe unescaped inside a quoted auth-param. */
const headerSafeValue = /^[!#$%&'*+.^_`|~0-9A-Za-z:/-]+$/;

function validateSettings(s: OidcSettings): void {
  const problems: string[] = [];
  if (!s.issuer) problems.push('issuer is required');
  if (!s.audience) problems.push('audience is required');
  if (s.algorithms.length === 0) problems.push('algorithms must not be empty');
  for (const alg of s.algorithms) {
    if (isForbiddenAlgorithm(alg)) problems.push(`algorithm ${JSON.stringify(alg)} is not allowed (no "none", no HS*)`);
    else if (!SUPPORTED_ALGORITHMS.has(alg)) problems.push(`algorithm ${JSON.stringify(alg)} is not a supported asymmetric algorithm`);
  }
  let url: URL | null = null;
  try {
    url = new URL(s.jwksUrl);
  } catch {
    problems.push('jwksUrl is not a URL');
  }
  // Keys fetched in clear text could be swapped in transit; plain http only for a local IdP.
  if (url && url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    problems.push('jwksUrl must be https (http is allowed only on loopback)');
  }
  if (!s.tenantClaim) problems.push('tenantClaim is required');
  if (!s.roleClaim) problems.push('roleClaim is required');
  if (!Number.isFinite(s.clockToleranceSec) || s.clockToleranceSec < 0) problems.push('clockToleranceSec must be >= 0');
  if (!Number.isFinite(s.stepUp.maxAuthAgeSec) || s.stepUp.maxAuthAgeSec < 0) problems.push('stepUp.maxAuthAgeSec must be >= 0');
  for (const v of [...s.stepUp.acrValues, ...s.stepUp.amrValues]) {
    if (!headerSafeValue.test(v)) problems.push(`step-up value ${JSON.stringify(v)} has characters not allowed in a header`);
  }
  if (problems.length > 0) throw new ConfigError(`invalid OIDC settings: ${problems.join('; ')}`);
}

function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

export interface OidcVerifierOptions {
  /** Replaces `fetch` for the JWKS request (tests, proxies). */
  fetchJwks?: FetchImplementation;
  /** Abort a JWKS fetch after this long. Default 3000 ms. */
  jwksTimeoutMs?: number;
  /** After a fetch, an unknown `kid` triggers another only after this long. Default 30000 ms. */
  jwksCooldownMs?: number;
  /** How long fetched keys are trusted before a refetch. Default 600000 ms. */
  jwksCacheMaxAgeMs?: number;
}

export interface OidcVerifier {
  verify(token: string): Promise<OidcIdentity>;
  satisfiesStepUp(id: OidcIdentity, nowSec?: number): boolean;
}

export function createOidcVerifier(settings: OidcSettings, opts: OidcVerifierOptions = {}): OidcVerifier {
  validateSettings(settings);
  const algorithms = [...settings.algorithms];
  const remote = createRemoteJWKSet(new URL(settings.jwksUrl), {
    timeoutDuration: opts.jwksTimeoutMs ?? 3_000,
    cooldownDuration: opts.jwksCooldownMs ?? 30_000,
    cacheMaxAge: opts.jwksCacheMaxAgeMs ?? 600_000,
    ...(opts.fetchJwks ? { [customFetch]: opts.fetchJwks } : {}),
  });

  // Separates "no such key" (the token's fault) from "could not get the keys" (ours).
  const getKey: JWTVerifyGetKey = async (header, token) => {
    try {
      return await remote(header, token);
    } catch (e) {
      if (e instanceof joseErrors.JWKSNoMatchingKey || e instanceof joseErrors.JWKSMultipleMatchingKeys) throw new AuthError('unknown_key');
      if (e instanceof joseErrors.JOSENotSupported) throw new AuthError('unknown_key');
      throw new AuthError('jwks_unavailable', { cause: e });
    }
  };

  async function verify(token: string): Promise<OidcIdentity> {
    if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_CHARS) throw new AuthError('malformed');
    if (token.split('.').length !== 3) throw new AuthError('malformed');

    // Checked before jose and before any key fetch, so a forged header costs nothing.
    let alg: unknown;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      throw new AuthError('malformed');
    }
    if (typeof alg !== 'string') throw new AuthError('malformed');
    if (isForbiddenAlgorithm(alg) || !algorithms.includes(alg)) throw new AuthError('bad_algorithm');

    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, getKey, {
        issuer: settings.issuer,
        audience: settings.audience,
        algorithms,
        clockTolerance: settings.clockToleranceSec,
        requiredClaims: ['exp', 'sub'],
      }));
    } catch (e) {
      throw toAuthError(e);
    }
    return identityFrom(payload, settings);
  }

  function satisfiesStepUp(id: OidcIdentity, nowSec: number = Math.floor(Date.now() / 1000)): boolean {
    const { maxAuthAgeSec, acrValues, amrValues } = settings.stepUp;
    if (id.authTime !== null) {
      const age = nowSec - id.authTime;
      // An auth_time from the future beyond clock skew is not "fresh", it is wrong.
      if (age <= maxAuthAgeSec && age >= -settings.clockToleranceSec) return true;
    }
    if (id.acr !== null && acrValues.includes(id.acr)) return true;
    return id.amr.some((m) => amrValues.includes(m));
  }

  return { verify, satisfiesStepUp };
}

function toAuthError(e: unknown): AuthError {
  if (e instanceof AuthError) return e;
  if (e instanceof joseErrors.JWTExpired) return new AuthError('expired');
  if (e instanceof joseErrors.JWTClaimValidationFailed) {
    if (e.reason === 'missing') return new AuthError('missing_claims');
    switch (e.claim) {
      case 'nbf':
        return new AuthError('not_yet_valid');
      case 'iss':
        return new AuthError('bad_issuer');
      case 'aud':
        return new AuthError('bad_audience');
      default:
        return new AuthError('malformed');
    }
  }
  if (e instanceof joseErrors.JOSEAlgNotAllowed) return new AuthError('bad_algorithm');
  if (e instanceof joseErrors.JWSSignatureVerificationFailed) return new AuthError('bad_signature');
  if (e instanceof joseErrors.JWKSNoMatchingKey || e instanceof joseErrors.JWKSMultipleMatchingKeys) return new AuthError('unknown_key');
  if (e instanceof joseErrors.JWKSTimeout) return new AuthError('jwks_unavailable');
  // JWSInvalid, JWTInvalid, JOSENotSupported (e.g. `crit`), bad base64/JSON, anything else.
  return new AuthError('malformed');
}

function identityFrom(payload: JWTPayload, settings: OidcSettings): OidcIdentity {
  const sub = payload.sub;
  const tenant = payload[settings.tenantClaim];
  if (typeof sub !== 'string' || sub.length === 0) throw new AuthError('missing_claims');
  if (typeof tenant !== 'string' || tenant.length === 0) throw new AuthError('missing_claims');
  const role = highestRole(payload[settings.roleClaim]);
  if (role === null) throw new AuthError('missing_claims');

  const authTime = typeof payload.auth_time === 'number' && Number.isFinite(payload.auth_time) ? payload.auth_time : null;
  const acr = typeof payload.acr === 'string' ? payload.acr : null;
  const amr = Array.isArray(payload.amr) ? payload.amr.filter((m): m is string => typeof m === 'string') : [];
  return { sub, tenant, role, authTime, acr, amr };
}

/**
 * A string must be an MC role. In an array (often an IdP groups claim) names that are not MC
 * roles are ignored and the highest MC role wins; none at all is a missing claim.
 */
function highestRole(claim: unknown): Role | null {
  const names = typeof claim === 'string' ? [claim] : Array.isArray(claim) ? claim.filter((c): c is string => typeof c === 'string') : [];
  return roleRank.find((r) => names.includes(r)) ?? null;
}

/**
 * The `WWW-Authenticate` value for a 401/403: RFC 6750 §3 `invalid_token` for a bad token,
 * RFC 9470 `insufficient_user_authentication` with `max_age` (and `acr_values`) when the token
 * is valid but the login is too old or too weak for publish or execute.
 */
export function wwwAuthenticateFor(reason: AuthErrorReason | 'step_up_required', settings: OidcSettings): string {
  if (reason === 'step_up_required') {
    const parts = [
      'error="insufficient_user_authentication"',
      'error_description="A more recent or stronger authentication is required"',
      `max_age=${Math.floor(settings.stepUp.maxAuthAgeSec)}`,
    ];
    if (settings.stepUp.acrValues.length > 0) parts.push(`acr_values="${settings.stepUp.acrValues.join(' ')}"`);
    return `Bearer ${parts.join(', ')}`;
  }
  return `Bearer error="invalid_token", error_description="${reasonMessages[reason]}"`;
}

const csv = z.string().transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean));
const seconds = (def: number) => z.coerce.number().int().min(0).max(86_400 * 366).default(def);

const oidcEnvSchema = z.object({
  MC_OIDC_ISSUER: z.string().min(1),
  MC_OIDC_AUDIENCE: z.string().min(1),
  MC_OIDC_JWKS_URL: z.string().url().optional(),
  MC_OIDC_ALGORITHMS: csv
    .refine((a) => a.length > 0, 'must list at least one algorithm')
    .refine((a) => !a.some(isForbiddenAlgorithm), 'must not contain "none" or HS* algorithms')
    .default([...DEFAULT_ALGORITHMS]),
  MC_OIDC_TENANT_CLAIM: z.string().min(1).default('mc_tenant'),
  MC_OIDC_ROLE_CLAIM: z.string().min(1).default('mc_role'),
  MC_OIDC_CLOCK_TOLERANCE_SEC: seconds(30),
  MC_OIDC_STEPUP_MAX_AGE_SEC: seconds(300),
  MC_OIDC_STEPUP_ACR: csv.default([]),
  MC_OIDC_STEPUP_AMR: csv.default([...DEFAULT_STEP_UP_AMR]),
});

/**
 * Reads the MC_OIDC_* variables once at start. Returns null when MC_OIDC_ISSUER is unset (OIDC
 * off); a bad value throws `ConfigError` naming the variable.
 */
export function oidcSettingsFromEnv(env: Record<string, string | undefined> = process.env): OidcSettings | null {
  const cleaned = Object.fromEntries(
    Object.entries(env).filter(([k, v]) => k.startsWith('MC_OIDC_') && v !== undefined && v !== ''),
  );
  if (cleaned.MC_OIDC_ISSUER === undefined) return null;
  const parsed = oidcEnvSchema.safeParse(cleaned);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  const settings: OidcSettings = {
    issuer: e.MC_OIDC_ISSUER,
    audience: e.MC_OIDC_AUDIENCE,
    jwksUrl: e.MC_OIDC_JWKS_URL ?? `${e.MC_OIDC_ISSUER.replace(/\/+$/, '')}/.well-known/jwks.json`,
    algorithms: e.MC_OIDC_ALGORITHMS,
    tenantClaim: e.MC_OIDC_TENANT_CLAIM,
    roleClaim: e.MC_OIDC_ROLE_CLAIM,
    clockToleranceSec: e.MC_OIDC_CLOCK_TOLERANCE_SEC,
    stepUp: { maxAuthAgeSec: e.MC_OIDC_STEPUP_MAX_AGE_SEC, acrValues: e.MC_OIDC_STEPUP_ACR, amrValues: e.MC_OIDC_STEPUP_AMR },
  };
  validateSettings(settings);
  return settings;
}

// roleSchema is the source of the role names; keep the ranking complete if a role is added.
if (roleRank.length !== roleSchema.options.length) throw new Error('oidc-verifier: roleRank is missing a role');
