import { and, asc, eq, gt } from 'drizzle-orm';
import type { z } from 'zod';
import type { auditListInputSchema } from '@mc/shared/api';
import type { Actor } from '@mc/shared/actor';
import type { Deps } from '../deps.ts';
import { auditEvents } from '../db/schema.ts';
import { verifyAuditChain, type ChainVerification } from './audit-chain.ts';

export interface AuditEventView {
  seq: number;
  id: string;
  ts: Date;
  type: string;
  actor: unknown;
  subject: unknown;
  data: unknown;
  hash: string;
}

export async function listAuditEvents(deps: Deps, input: z.output<typeof auditListInputSchema>, actor: Pick<Actor, 'tenantId'>): Promise<{ items: AuditEventView[]; nextAfter: number | null }> {
  const conditions = [
    eq(auditEvents.tenantId, actor.tenantId),
    gt(auditEvents.seq, input.after),
    input.type ? eq(auditEvents.type, input.type) : undefined,
    input.workflowId ? eq(auditEvents.workflowId, input.workflowId) : undefined,
    input.executionId ? eq(auditEvents.executionId, input.executionId) : undefined,
  ].filter((c) => c !== undefined);
  const rows = await deps.db.select().from(auditEvents).where(and(...conditions)).orderBy(asc(auditEvents.seq)).limit(input.limit + 1);
  const more = rows.length > input.limit;
  const items = (more ? rows.slice(0, input.limit) : rows).map((r) => ({ seq: r.seq, id: r.id, ts: r.ts, type: r.type, actor: r.actor, subject: r.subject, data: r.data, hash: r.hash }));
  return { items, nextAfter: more ? items[items.length - 1]!.seq : null };
}

export function verifyAudit(deps: Deps): Promise<ChainVerification> {
  return verifyAuditChain(deps.db);
}
