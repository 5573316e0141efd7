import { and, asc, eq, isNull, lt, or, sql } from 'drizzle-orm';
import type { Queryable } from '../db/client.ts';
import { fixedStatement } from '../db/fixed-statement.ts';
import { prefixedColumns, rowOf } from '../db/raw-rows.ts';
import { readGroupOf } from '../db/read-group.ts';
import { apiTokens, tenants } from '../db/schema.ts';

export type TenantRow = typeof tenants.$inferSelect;
export type TokenRow = typeof apiTokens.$inferSelect;

export async function findTenantByName(db: Queryable, name: string): Promise<TenantRow | null> {
  const [row] = await db.select().from(tenants).where(eq(tenants.name, name));
  return row ?? null;
}

export async function findTenant(db: Queryable, id: string): Promise<TenantRow | null> {
  const [row] = await db.select().from(tenants).where(eq(tenants.id, id));
  return row ?? null;
}

export async function insertTenant(db: Queryable, name: string): Promise<TenantRow | null> {
  const [row] = await db.insert(tenants).values({ name }).onConflictDoNothing().returning();
  return row ?? null;
}

export async function listTenants(db: Queryable): Promise<TenantRow[]> {
  return db.select().from(tenants).orderBy(asc(tenants.name));
}

export async function markTenantDeleted(db: Queryable, id: string): Promise<TenantRow | null> {
  const [row] = await db.update(tenants).set({ deletedAt: sql`now()` }).where(and(eq(tenants.id, id), isNull(tenants.deletedAt))).returning();
  return row ?? null;
}

export async function insertToken(db: Queryable, row: typeof apiTokens.$inferInsert): Promise<TokenRow | null> {
  const [inserted] = await db.insert(apiTokens).values(row).onConflictDoNothing().returning();
  return inserted ?? null;
}

/** The token with its tenant, by hash: what authentication looks up on every request. */
export async function findTokenByHash(db: Queryable, tokenHash: string): Promise<TokenWithTenant | null> {
  // Every authenticated request asks: those that come while a read is under way go together in the next (read-group.ts).
  const group = readGroupOf(db, 'api-token', (hashes: string[]) => findTokensByHash(db, hashes));
  return (await (group ? group.read(tokenHash) : findTokensByHash(db, [tokenHash]).then((found) => found.get(tokenHash)))) ?? null;
}

type TokenWithTenant = { token: TokenRow; tenant: TenantRow };

async function findTokensByHash(db: Queryable, tokenHashes: string[]): Promise<Map<string, TokenWithTenant>> {
  const rows = await tokensWithTenants(db, { tokenHashes });
  return new Map(rows.map((raw) => [raw.t__token_hash as string, { token: rowOf(apiTokens, raw, 't__'), tenant: rowOf(tenants, raw, 'n__') }]));
}
// Rendered once (fixedStatement): every authenticated request runs it.
const tokensWithTenants = fixedStatement<'tokenHashes'>(
  () => sql`select ${prefixedColumns(apiTokens, 't', 't__')}, ${prefixedColumns(tenants, 'n', 'n__')}
    from ${apiTokens} t join ${tenants} n on n.id = t.tenant_id
    where t.token_hash = any(${sql.placeholder('tokenHashes')}::text[])`,
);

export async function listTokens(db: Queryable, tenantId: string): Promise<TokenRow[]> {
  return db.select().from(apiTokens).where(eq(apiTokens.tenantId, tenantId)).orderBy(asc(apiTokens.createdAt));
}

export async function revokeToken(db: Queryable, tenantId: string, id: string): Promise<TokenRow | null> {
  const [row] = await db
    .update(apiTokens)
    .set({ revokedAt: sql`coalesce(${apiTokens.revokedAt}, now())` })
    .where(and(eq(apiTokens.id, id), eq(apiTokens.tenantId, tenantId)))
    .returning();
  return row ?? null;
}

/** When this process last recorded each token's use: the statement is skipped within the minute, not just the write. */
const touchedAt = new Map<string, number>();

/** Recorded at most once a minute per token: a write per request would make every read a write. */
export async function touchToken(db: Queryable, id: string): Promise<void> {
  const now = Date.now();
  if (now - (touchedAt.get(id) ?? 0) < 60_000) return;
  if (touchedAt.size >= 10_000) touchedAt.clear();
  touchedAt.set(id, now);
  await db
    .update(apiTokens)
    .set({ lastUsedAt: sql`now()` })
    .where(and(eq(apiTokens.id, id), or(isNull(apiTokens.lastUsedAt), lt(apiTokens.lastUsedAt, sql`now() - interval '1 minute'`))));
}

export async function countTokens(db: Queryable): Promise<number> {
  const [row] = await db.select({ n: sql<number>`count(*)::int` }).from(apiTokens);
  return row?.n ?? 0;
}
