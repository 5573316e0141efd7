import { asc, gt } from 'drizzle-orm';
import { canonicalJson, sha256Hex } from '@mc/shared/canonical-json';
import type { AuditEvent } from '@mc/shared/audit-event';
import type { Queryable } from '../db/client.ts';
import { auditEvents } from '../db/schema.ts';

/**
 * The audit hash chain: one chain over all events in `seq` order (chosen over per-tenant chains
 * while MC has no tenants; documented in docs/audit/README.md). Each row's hash covers its
 * predecessor's hash and its own canonical content, so deleting, editing or reordering any row
 * breaks every hash after it.
 */
export const genesisHash = 'sha256:' + '0'.repeat(64);

export function chainHash(prevHash: string, event: AuditEvent): string {
  return `sha256:${sha256Hex(prevHash + canonicalJson(event))}`;
}

export interface ChainVerification {
  ok: boolean;
  checked: number;
  /** The first row that does not fit the chain, and why. */
  firstBreak: { seq: number; id: string; reason: string } | null;
}

export async function verifyAuditChain(db: Queryable, pageSize = 5_000): Promise<ChainVerification> {
  let prev = genesisHash;
  let checked = 0;
  let afterSeq = 0;
  for (;;) {
    const rows = await db.select().from(auditEvents).where(gt(auditEvents.seq, afterSeq)).orderBy(asc(auditEvents.seq)).limit(pageSize);
    if (rows.length === 0) return { ok: true, checked, firstBreak: null };
    for (const row of rows) {
      if (row.prevHash !== prev) {
        return { ok: false, checked, firstBreak: { seq: row.seq, id: row.id, reason: `prev_hash does not match the hash of the row before it (a row before seq ${row.seq} was deleted, edited or inserted)` } };
      }
      const event: AuditEvent = {
        id: row.id,
        ts: row.ts.toISOString(),
        type: row.type as AuditEvent['type'],
        actor: row.actor as AuditEvent['actor'],
        subject: row.subject as AuditEvent['subject'],
        data: row.data as AuditEvent['data'],
      };
      const expected = chainHash(prev, event);
      if (row.hash !== expected) {
        return { ok: false, checked, firstBreak: { seq: row.seq, id: row.id, reason: 'content does not match its hash (the row was edited)' } };
      }
      prev = row.hash;
      checked++;
      afterSeq = row.seq;
    }
  }
}
