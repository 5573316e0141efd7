import { and, asc, eq, gt, sql } from 'drizzle-orm';
import type { Redis } from 'ioredis';
import { eventBus, eventStreamKey } from '@mc/shared/event-bus';
import type { Database } from '../db/client.ts';
import { auditEvents, auditOutboxCursors } from '../db/schema.ts';
import { eventsPublishedTotal } from '../observability/metrics.ts';
import { redisScript, runScript } from '../queue/redis-script.ts';

/**
 * The audit outbox: audit rows are committed with the change they record (audit-writer.ts);
 * this relay copies them to the bus (Redis Streams, `${prefix}:mc-events:<partition>`) after the
 * fact. A Redis outage therefore delays events and never loses them.
 *
 * - One relay per partition at a time: the partition's cursor row is held FOR UPDATE SKIP LOCKED
 *   while its batch is published, so any number of workers can run the relay.
 * - Order per partition: rows are read and added in `seq` order. `seq` is also commit order
 *   (the writer takes the chain lock before inserting and holds it to commit), so a cursor on
 *   `seq` never skips a row that commits late.
 * - Exactly once on the stream: the Lua script below adds only rows whose seq is above the last
 *   seq it added to that partition (kept in Redis beside the stream), atomically. A crash after
 *   XADD and before the cursor update re-reads the batch next time and adds nothing twice.
 * - Retention: each XADD trims the stream with `MINID ~ <now - 30 days>`.
 */
const relayScript = redisScript(`
local last = tonumber(redis.call('GET', KEYS[2]) or '0')
local lastText = nil
local added = 0
for i = 2, #ARGV, 5 do
  local seq = tonumber(ARGV[i])
  if seq > last then
    redis.call('XADD', KEYS[1], 'MINID', '~', ARGV[1], '*', 'seq', ARGV[i], 'id', ARGV[i + 1], 'type', ARGV[i + 2], 'tenant', ARGV[i + 3], 'event', ARGV[i + 4])
    last = seq
    lastText = ARGV[i]
    added = added + 1
  end
end
if lastText then redis.call('SET', KEYS[2], lastText) end
return added
`);

export const relayBatchSize = 500;

/** One cursor row per partition; idempotent. */
export async function ensureOutboxCursors(db: Database): Promise<void> {
  await db
    .insert(auditOutboxCursors)
    .values(Array.from({ length: eventBus.partitions }, (_, partition) => ({ partition, lastSeq: 0 })))
    .onConflictDoNothing();
}

/** Partitions with rows after their cursor. */
export async function pendingPartitions(db: Database): Promise<number[]> {
  const rows = await db.execute<{ partition: number }>(sql`
    select c.partition from ${auditOutboxCursors} c
    where exists (select 1 from ${auditEvents} a where a.partition = c.partition and a.seq > c.last_seq)
    order by c.partition`);
  return [...rows].map((r) => Number(r.partition));
}

/** Publishes one batch of one partition; 0 when nothing was pending or another relay holds it. */
export async function relayPartition(deps: { db: Database; redis: Redis; prefix: string }, partition: number, batchSize = relayBatchSize): Promise<number> {
  return deps.db.transaction(async (tx) => {
    const [cursor] = await tx.select().from(auditOutboxCursors).where(eq(auditOutboxCursors.partition, partition)).for('update', { skipLocked: true });
    if (!cursor) return 0;
    const rows = await tx
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.partition, partition), gt(auditEvents.seq, cursor.lastSeq)))
      .orderBy(asc(auditEvents.seq))
      .limit(batchSize);
    if (rows.length === 0) return 0;
    const stream = eventStreamKey(deps.prefix, partition);
    const minId = String(Date.now() - eventBus.retentionDays * 86_400_000);
    const args = rows.flatMap((r) => [
      String(r.seq),
      r.id,
      r.type,
      r.tenantId,
      JSON.stringify({ id: r.id, ts: r.ts.toISOString(), type: r.type, actor: r.actor, subject: r.subject, data: r.data }),
    ]);
    // Throws while Redis is down: the transaction rolls back and the cursor stays where it was.
    const added = Number(await runScript(deps.redis, relayScript, 2, stream, `${stream}:last-seq`, minId, ...args));
    await tx.update(auditOutboxCursors).set({ lastSeq: rows[rows.length - 1]!.seq, publishedAt: new Date() }).where(eq(auditOutboxCursors.partition, partition));
    eventsPublishedTotal.inc(added);
    return rows.length;
  });
}

/** One pass over every pending partition; the number of rows moved past their cursor. */
export async function relayOnce(deps: { db: Database; redis: Redis; prefix: string }): Promise<number> {
  let moved = 0;
  for (const partition of await pendingPartitions(deps.db)) moved += await relayPartition(deps, partition);
  return moved;
}

export interface OutboxLag {
  pending: number;
  oldestAgeSeconds: number;
}

/** Unpublished rows and the age of the oldest (0 when none): the outbox lag gauges. */
export async function outboxLag(db: Database): Promise<OutboxLag> {
  const [row] = await db.execute<{ pending: number; oldest: number | null }>(sql`
    select count(*)::int as pending, extract(epoch from (now() - min(a.ts)))::float8 as oldest
    from ${auditEvents} a left join ${auditOutboxCursors} c on c.partition = a.partition
    where a.seq > coalesce(c.last_seq, 0)`);
  return { pending: Number(row?.pending ?? 0), oldestAgeSeconds: Math.max(0, Number(row?.oldest ?? 0)) };
}

export interface OutboxRelayLoop {
  close(): Promise<void>;
}

/**
 * The worker's relay loop: a pass, then a sleep of `intervalMs` when there was nothing to move
 * (straight on while it is catching up). Errors (Redis or Postgres down) are logged and retried
 * after the interval.
 */
export function startOutboxRelay(
  deps: { db: Database; redis: Redis; prefix: string; logger: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void } },
  intervalMs: number,
): OutboxRelayLoop {
  let stopped = false;
  let wake: (() => void) | null = null;
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wake = null;
        resolve();
      }
      wake = done;
    });
  const loop = (async () => {
    let failing = false;
    let ensured = false;
    while (!stopped) {
      try {
        if (!ensured) {
          await ensureOutboxCursors(deps.db);
          ensured = true;
        }
        const moved = await relayOnce(deps);
        if (failing) deps.logger.info({}, 'event relay publishing again');
        failing = false;
        if (moved === 0) await sleep(intervalMs);
      } catch (err) {
        if (!failing) deps.logger.warn({ err }, 'event relay cannot publish; audit events wait in the outbox');
        failing = true;
        await sleep(intervalMs);
      }
    }
  })();
  return {
    async close() {
      stopped = true;
      wake?.();
      await loop;
    },
  };
}
