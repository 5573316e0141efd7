import { randomUUID } from 'node:crypto';
import { desc, sql } from 'drizzle-orm';
import { PgTransaction } from 'drizzle-orm/pg-core';
import type { AuditEvent, AuditEventType } from '@mc/shared/audit-event';
import { eventPartition } from '@mc/shared/event-bus';
import { assertValidEvent } from '@mc/shared/event-schema';
import type { Queryable } from '../db/client.ts';
import { auditEvents } from '../db/schema.ts';
import { chainHash, genesisHash } from './audit-chain.ts';

// Serialises appends across processes until the transaction commits, so the chain has one order.
const chainLockKey = 727373;

/**
 * The chain head as this transaction last wrote it. Once a transaction holds the chain lock no one
 * else can append until it ends, so its second append (a start records its policy decisions and
 * then `mc.execution.started`) needs neither the lock nor the head again. Keyed by the
 * transaction object, which dies with the transaction (MC opens no savepoints).
 */
const headOfTransaction = new WeakMap<object, string>();

export interface AuditEventDraft {
  /** The tenant the event belongs to (a column, not part of the spec's event shape). */
  tenantId: string;
  type: AuditEventType;
  actor: AuditEvent['actor'];
  subject: AuditEvent['subject'];
  data: Record<string, unknown>;
}

/**
 * Appends audit events on the caller's transaction, so an event exists exactly when the change
 * it records does. Each event is validated against the spec's schema before it is written, and
 * linked into the hash chain. Call it last in a transaction: the chain lock is held until commit.
 */
export async function appendAuditEvents(tx: Queryable, drafts: readonly AuditEventDraft[]): Promise<AuditEvent[]> {
  if (drafts.length === 0) return [];
  // On the pool, the lock, the head read and the insert would each be their own transaction and
  // two appenders could fork the chain: refuse loudly instead.
  if (!(tx instanceof PgTransaction)) throw new Error('appendAuditEvents must run on a transaction (db.transaction(tx => …)), not on the pool');
  const now = new Date().toISOString();
  // Validated with ajv against docs/audit/mc-events.v1.json (the spec's schema, the one source):
  // an invalid event throws here, before anything is written, and so fails the whole transaction.
  const events: AuditEvent[] = drafts.map(({ tenantId: _tenant, ...d }) => {
    const event = { id: randomUUID(), ts: now, type: d.type, actor: d.actor, subject: d.subject, data: d.data };
    assertValidEvent(event);
    return event;
  });
  let prev: string = headOfTransaction.get(tx) ?? (await lockChainHead(tx));
  const chained = events.map((e) => {
    const hash = chainHash(prev, e);
    const link = { prevHash: prev, hash };
    prev = hash;
    return link;
  });
  headOfTransaction.set(tx, prev);
  await tx.insert(auditEvents).values(
    events.map((e, i) => ({
      ...chained[i]!,
      tenantId: drafts[i]!.tenantId,
      id: e.id,
      ts: new Date(e.ts),
      type: e.type,
      actor: e.actor,
      subject: e.subject,
      data: e.data,
      workflowId: e.subject.workflowId ?? null,
      executionId: e.subject.executionId ?? null,
      // The bus partition (shared/event-bus.ts), fixed at write time for the outbox relay.
      partition: eventPartition(e.subject.workflowId ?? drafts[i]!.tenantId),
    })),
  );
  return events;
}

/** Takes the chain lock (held to commit) and reads the head it protects. */
async function lockChainHead(tx: Queryable): Promise<string> {
  await tx.execute(sql`select pg_advisory_xact_lock(${chainLockKey})`);
  const [last] = await tx.select({ hash: auditEvents.hash }).from(auditEvents).orderBy(desc(auditEvents.seq)).limit(1);
  return last?.hash ?? genesisHash;
}
