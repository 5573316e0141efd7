import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Actor, Role } from '@mc/shared/actor';
import { roleSchema } from '@mc/shared/actor';
import { sha256Hex } from '@mc/shared/canonical-json';
import { AppError, validationError } from '@mc/shared/errors';
import type { Deps } from '../deps.ts';
import * as repo from './repository.ts';

/**
 * Tenants and API tokens. A token is shown once, when it is made, and stored only as its sha256;
 * it carries a role and a tenant, may expire, and can be revoked. The default tenant and the
 * first admin token are made on first start (`bootstrapIdentity`).
 */
export const defaultTenantName = 'default';

export function newTokenValue(): string {
  return `mc_${randomBytes(32).toString('base64url')}`;
}

export const hashToken = (token: string) => sha256Hex(token);

export interface TokenView {
  id: string;
  name: string;
  role: Role;
  tenantId: string;
  tokenPrefix: string;
  createdBy: string;
  createdAt: Date;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

const tokenView = (t: repo.TokenRow): TokenView => ({
  id: t.id,
  name: t.name,
  role: t.role,
  tenantId: t.tenantId,
  tokenPrefix: t.tokenPrefix,
  createdBy: t.createdBy,
  createdAt: t.createdAt,
  expiresAt: t.expiresAt,
  lastUsedAt: t.lastUsedAt,
  revokedAt: t.revokedAt,
});

export const createTokenInputSchema = z.strictObject({
  name: z.string().min(1).max(100),
  role: roleSchema,
  /** Days until it stops working; omit for a token that does not expire. */
  expiresInDays: z.number().int().min(1).max(3650).optional(),
  /** Admins may make the first token of another tenant (by name); default: the caller's own. */
  tenant: z.string().min(1).max(100).optional(),
});

/** Tenants are managed by the admins of the default tenant (the platform's operators), no one else. */
function assertPlatformAdmin(actor: Actor): void {
  if (actor.tenantName !== defaultTenantName) throw new AppError('FORBIDDEN', `only admins of the ${defaultTenantName} tenant manage tenants`);
}

export async function createToken(deps: Deps, raw: unknown, actor: Actor): Promise<TokenView & { token: string }> {
  const parsed = createTokenInputSchema.safeParse(raw);
  if (!parsed.success) throw validationError(parsed.error, 'token request');
  const input = parsed.data;
  let tenantId = actor.tenantId;
  if (input.tenant && input.tenant !== actor.tenantName) {
    assertPlatformAdmin(actor);
    const tenant = await repo.findTenantByName(deps.db, input.tenant);
    if (!tenant || tenant.deletedAt) throw new AppError('NOT_FOUND', `tenant ${input.tenant} not found`);
    tenantId = tenant.id;
  }
  const token = newTokenValue();
  const row = await repo.insertToken(deps.db, {
    tenantId,
    name: input.name,
    role: input.role,
    tokenHash: hashToken(token),
    tokenPrefix: token.slice(0, 10),
    createdBy: actor.sub,
    expiresAt: input.expiresInDays ? new Date(Date.now() + input.expiresInDays * 86_400_000) : null,
  });
  if (!row) throw new AppError('INTERNAL', 'token could not be stored');
  return { ...tokenView(row), token };
}

export async function listTokens(deps: Deps, actor: Actor): Promise<TokenView[]> {
  return (await repo.listTokens(deps.db, actor.tenantId)).map(tokenView);
}

export async function revokeToken(deps: Deps, id: string, actor: Actor): Promise<TokenView> {
  const row = await repo.revokeToken(deps.db, actor.tenantId, id);
  if (!row) throw new AppError('NOT_FOUND', `token ${id} not found`);
  return tokenView(row);
}

export const tenantNameSchema = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and "-" (at most 63)');

export async function createTenant(deps: Deps, raw: unknown, actor: Actor): Promise<{ id: string; name: string; createdAt: Date }> {
  assertPlatformAdmin(actor);
  const parsed = z.strictObject({ name: tenantNameSchema }).safeParse(raw);
  if (!parsed.success) throw validationError(parsed.error, 'tenant');
  const row = await repo.insertTenant(deps.db, parsed.data.name);
  if (!row) throw new AppError('CONFLICT', `tenant ${parsed.data.name} already exists`);
  return { id: row.id, name: row.name, createdAt: row.createdAt };
}

export async function listTenants(deps: Deps, actor: Actor) {
  assertPlatformAdmin(actor);
  return (await repo.listTenants(deps.db)).map((t) => ({ id: t.id, name: t.name, createdAt: t.createdAt, deletedAt: t.deletedAt }));
}

export async function deleteTenant(deps: Deps, name: string, actor: Actor) {
  assertPlatformAdmin(actor);
  const tenant = await repo.findTenantByName(deps.db, name);
  if (!tenant || tenant.deletedAt) throw new AppError('NOT_FOUND', `tenant ${name} not found`);
  if (tenant.id === actor.tenantId) throw new AppError('CONFLICT', 'an admin cannot delete their own tenant');
  await repo.markTenantDeleted(deps.db, tenant.id);
  return { name, deleted: true };
}

/**
 * First start: the default tenant, and an admin token — `MC_BOOTSTRAP_TOKEN` when set (for
 * automation; idempotent), else a new one returned for the caller to print once.
 */
export async function bootstrapIdentity(deps: Pick<Deps, 'db' | 'config'>): Promise<{ tenantId: string; printedToken: string | null }> {
  const tenant = (await repo.findTenantByName(deps.db, defaultTenantName)) ?? (await repo.insertTenant(deps.db, defaultTenantName)) ?? (await repo.findTenantByName(deps.db, defaultTenantName));
  if (!tenant) throw new Error('could not create the default tenant');
  const configured = deps.config.MC_BOOTSTRAP_TOKEN;
  if (configured) {
    await repo.insertToken(deps.db, { tenantId: tenant.id, name: 'bootstrap', role: 'admin', tokenHash: hashToken(configured), tokenPrefix: configured.slice(0, 10), createdBy: 'bootstrap' });
    return { tenantId: tenant.id, printedToken: null };
  }
  if ((await repo.countTokens(deps.db)) > 0) return { tenantId: tenant.id, printedToken: null };
  const token = newTokenValue();
  const row = await repo.insertToken(deps.db, { tenantId: tenant.id, name: 'bootstrap', role: 'admin', tokenHash: hashToken(token), tokenPrefix: token.slice(0, 10), createdBy: 'bootstrap' });
  return { tenantId: tenant.id, printedToken: row ? token : null };
}
