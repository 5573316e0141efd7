import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { PgTransaction } from 'drizzle-orm/pg-core';
import type { AuditEvent, AuditEventType } from '@mc/shared/audit-event';
import { eventPartition } from '@mc/shared/event-bus';
import { assertValidEvent } from '@mc/shared/event-schema';
import { deferToCommit, type Queryable } from '../db/client.ts';
import { fixedStatement } from '../db/fixed-statement.ts';
import { canonicalJson } from '@mc/shared/canonical-json';
import { genesisHash } from './audit-chain.ts';

// Serialises appends across processes until the transaction commits, so the chain has one order.
const chainLockKey = 727373;

/** Events appended on an open transaction, written together just before its commit. */
const pendingOfTransaction = new WeakMap<object, ChainRow[]>();

interface ChainRow {
  id: string;
  tenant_id: string;
  ts: string;
  type: string;
  actor: unknown;
  subject: unknown;
  data: unknown;
  workflow_id: string | null;
  execution_id: string | null;
  partition: number;
  /** base64 of the UTF-8 bytes of the event's canonical JSON: what its chain hash covers after the previous hash. */
  canon: string;
}

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
 * it records does. Each event is validated against the spec's schema here, before anything is
 * written (an invalid one throws and so fails the whole transaction). The events of a
 * transaction are linked into the hash chain and inserted together as its last statement, right
 * before COMMIT (`deferToCommit`): the chain lock, which every appender in every process waits
 * for, is then held for one statement and the commit — not across the rest of the transaction.
 */
export async function appendAuditEvents(tx: Queryable, drafts: readonly AuditEventDraft[]): Promise<AuditEvent[]> {
  if (drafts.length === 0) return [];
  // On the pool, the lock and the insert would each be their own transaction and two appenders
  // could fork the chain: refuse loudly instead.
  if (!(tx instanceof PgTransaction)) throw new Error('appendAuditEvents must run on a transaction (db.transaction(tx => …)), not on the pool');
  const now = new Date().toISOString();
  // Validated with ajv against docs/audit/mc-events.v1.json (the spec's schema, the one source).
  const events: AuditEvent[] = drafts.map(({ tenantId: _tenant, ...d }) => {
    const event = { id: randomUUID(), ts: now, type: d.type, actor: d.actor, subject: d.subject, data: d.data };
    assertValidEvent(event);
    return event;
  });
  const rows: ChainRow[] = events.map((e, i) => ({
    id: e.id,
    tenant_id: drafts[i]!.tenantId,
    ts: e.ts,
    type: e.type,
    actor: e.actor,
    subject: e.subject,
    data: e.data,
    workflow_id: e.subject.workflowId ?? null,
    execution_id: e.subject.executionId ?? null,
    // The bus partition (shared/event-bus.ts), fixed at write time for the outbox relay.
    partition: eventPartition(e.subject.workflowId ?? drafts[i]!.tenantId),
    canon: Buffer.from(canonicalJson(e), 'utf8').toString('base64'),
  }));
  const pending = pendingOfTransaction.get(tx);
  if (pending) {
    pending.push(...rows);
    return events;
  }
  pendingOfTransaction.set(tx, rows);
  // A transaction opened elsewhere than createDatabase has no commit hook: written now, as before.
  if (!deferToCommit(tx, () => writeChained(tx, pendingOfTransaction.get(tx)!), { last: true })) await writeChained(tx, rows);
  return events;
}

const takeChainLock = fixedStatement(() => sql`select pg_advisory_xact_lock(${chainLockKey})`);

const link = (prev: ReturnType<typeof sql.raw>) => sql`'sha256:' || encode(sha256(convert_to(${prev}, 'UTF8') || decode(i.canon, 'base64')), 'hex')`;
const insertChained = fixedStatement<'payload'>(
  () => sql`
      with recursive
        items as (
          select * from jsonb_to_recordset(${sql.placeholder('payload')}::jsonb) as r(
            ord int, id uuid, tenant_id uuid, ts timestamptz, type text, actor jsonb, subject jsonb, data jsonb,
            workflow_id uuid, execution_id uuid, partition int, canon text)
        ),
        head as (select coalesce((select hash from audit_events order by seq desc limit 1), ${genesisHash}) as h),
        chain as (
          select i.ord, head.h as prev_hash, ${link(sql.raw('head.h'))} as hash from head join items i on i.ord = 1
          union all
          select i.ord, c.hash, ${link(sql.raw('c.hash'))} from chain c join items i on i.ord = c.ord + 1
        )
      insert into audit_events (id, tenant_id, ts, type, actor, subject, data, workflow_id, execution_id, prev_hash, hash, partition)
      select i.id, i.tenant_id, i.ts, i.type, i.actor, i.subject, i.data, i.workflow_id, i.execution_id, c.prev_hash, c.hash, i.partition
      from chain c join items i using (ord)
      order by c.ord`,
);

/**
 * Takes the chain lock (held to commit), then links and inserts the rows in one statement: the
 * head is read and each hash computed by Postgres, `sha256(previous hash ‖ canonical JSON)` —
 * the same bytes `chainHash` hashes (server/audit/audit-chain.ts), which verification recomputes.
 * The two statements go out together; the insert's snapshot is taken after the lock is granted
 * (read committed), so it sees every chain row committed before it.
 */
async function writeChained(tx: Queryable, rows: ChainRow[]): Promise<void> {
  pendingOfTransaction.delete(tx);
  if (rows.length === 0) return;
  const payload = JSON.stringify(rows.map((r, i) => ({ ...r, ord: i + 1 })));
  await Promise.all([takeChainLock(tx, {}), insertChained(tx, { payload })]);
}
