import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { asc, sql } from 'drizzle-orm';
import { Redis } from 'ioredis';
import type { Actor } from '@mc/shared/actor';
import { eventBus, eventStreamKey } from '@mc/shared/event-bus';
import { outboxLag, relayOnce, relayPartition, startOutboxRelay, type OutboxRelayLoop } from '@mc/server/audit/outbox-relay';
import { auditEvents } from '@mc/server/db/schema';
import { createWorkflow, publishWorkflow } from '@mc/server/workflows/service';
import { PrivateRedis } from '../support/private-redis.ts';
import { eventually, startTestStack, type TestStack } from '../support/test-stack.ts';

/**
 * The audit outbox → mc-events bus (Redis Streams) across a Redis outage: events committed while
 * Redis is down wait in Postgres, then all arrive, in seq order per partition, and a consumer
 * group that acknowledges sees each exactly once.
 */
let redis: PrivateRedis;
let stack: TestStack;
let relay: OutboxRelayLoop;
let consumer: Redis;
let consuming = true;
let consumerLoop: Promise<void>;
const received: { partition: number; seq: number; id: string }[] = [];
const group = 'test-consumers';

beforeAll(async () => {
  redis = await PrivateRedis.start();
  stack = await startTestStack({ REDIS_URL: redis.url }, { worker: false });
  relay = startOutboxRelay({ db: stack.deps.db, redis: stack.deps.redis, prefix: stack.config.MC_QUEUE_PREFIX, logger: stack.deps.logger }, 50);
  consumer = new Redis(redis.url, { maxRetriesPerRequest: null, retryStrategy: () => 100 });
  consumer.on('error', () => {});
  const keys = Array.from({ length: eventBus.partitions }, (_, p) => eventStreamKey(stack.config.MC_QUEUE_PREFIX, p));
  for (const k of keys) await consumer.xgroup('CREATE', k, group, '0', 'MKSTREAM');
  // A consumer in a group that reads new entries and acknowledges each after recording it.
  consumerLoop = (async () => {
    while (consuming) {
      try {
        const res = (await consumer.xreadgroup('GROUP', group, 'c1', 'COUNT', 200, 'BLOCK', 100, 'STREAMS', ...keys, ...keys.map(() => '>'))) as [string, [string, string[]][]][] | null;
        for (const [key, entries] of res ?? []) {
          const partition = Number(key.split(':').pop());
          for (const [entryId, fields] of entries) {
            const f = Object.fromEntries(fields.flatMap((v, i) => (i % 2 === 0 ? [[v, fields[i + 1]]] : [])));
            received.push({ partition, seq: Number(f.seq), id: String(f.id) });
            await consumer.xack(key, group, entryId);
          }
        }
      } catch {
        await Bun.sleep(100);
      }
    }
  })();
});

afterAll(async () => {
  consuming = false;
  await relay?.close();
  await consumerLoop;
  consumer?.disconnect();
  await stack?.close();
  await redis?.stop();
});

const actor = async (): Promise<Actor> => {
  const [t] = await stack.deps.db.execute<{ id: string }>(sql`select id from tenants where name = 'default'`);
  return { sub: 'outage-test', role: 'admin', tenantId: t!.id, tenantName: 'default', method: 'system', stepUp: true };
};

/** Publishing writes mc.workflow.published and its mc.policy.decision events, Postgres only. */
async function publishSome(n: number, who: Actor): Promise<void> {
  for (let i = 0; i < n; i++) {
    const wf = await createWorkflow(stack.deps, { name: `bus-${crypto.randomUUID().slice(0, 8)}`, version: '1.0.0', tasks: [{ id: 't1', uses: 'pkg:demo/echo@1.0.0' }] }, who);
    await publishWorkflow(stack.deps, wf.id, who);
  }
}

const allRows = () => stack.deps.db.select({ seq: auditEvents.seq, id: auditEvents.id, partition: auditEvents.partition }).from(auditEvents).orderBy(asc(auditEvents.seq));

describe('the mc-events bus through a Redis outage', () => {
  it('queues events in the outbox while Redis is down and delivers all, in order per partition, once each', async () => {
    const who = await actor();
    await publishSome(8, who);
    const before = await allRows();
    await eventually(async () => received.length >= before.length, { what: 'events published before the outage' });

    await redis.down();
    await publishSome(8, who);
    const during = await allRows();
    expect(during.length).toBeGreaterThan(before.length);
    // Nothing can be published: the new events wait, and the lag gauge's source sees them.
    await Bun.sleep(300);
    const lag = await outboxLag(stack.deps.db);
    expect(lag.pending).toBe(during.length - before.length);
    expect(lag.oldestAgeSeconds).toBeGreaterThan(0);
    expect(received.length).toBe(before.length);

    await redis.up();
    await eventually(async () => received.length >= during.length, { what: 'events published after Redis returned', timeoutMs: 30_000 });
    await Bun.sleep(300);

    // Exactly once: every event id once, none missing.
    expect(received.length).toBe(during.length);
    expect(new Set(received.map((r) => r.id)).size).toBe(during.length);
    expect(new Set(received.map((r) => r.id))).toEqual(new Set(during.map((r) => r.id)));
    // In seq order within each partition, and on the partition the row was written with.
    const partitionOf = new Map(during.map((r) => [r.id, r.partition]));
    for (let p = 0; p < eventBus.partitions; p++) {
      const seqs = received.filter((r) => r.partition === p).map((r) => r.seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    }
    for (const r of received) expect(partitionOf.get(r.id)).toBe(r.partition);
    expect((await outboxLag(stack.deps.db)).pending).toBe(0);
  });

  it('adds nothing twice when the relay crashed between XADD and moving its cursor', async () => {
    const lengths = async () => Promise.all(Array.from({ length: eventBus.partitions }, (_, p) => stack.deps.redis.xlen(eventStreamKey(stack.config.MC_QUEUE_PREFIX, p))));
    await relay.close();
    const before = await lengths();
    // Rewind every cursor, as if the marks after the last XADDs had never committed.
    await stack.deps.db.execute(sql`update audit_outbox_cursors set last_seq = 0`);
    expect(await relayOnce({ db: stack.deps.db, redis: stack.deps.redis, prefix: stack.config.MC_QUEUE_PREFIX })).toBeGreaterThan(0);
    expect(await lengths()).toEqual(before);
    expect((await outboxLag(stack.deps.db)).pending).toBe(0);
    relay = startOutboxRelay({ db: stack.deps.db, redis: stack.deps.redis, prefix: stack.config.MC_QUEUE_PREFIX, logger: stack.deps.logger }, 50);
  });

  it('trims each partition to 30 days (XADD … MINID ~ <now - 30d>)', async () => {
    const probe = `${stack.config.MC_QUEUE_PREFIX}trim`;
    const [row] = await allRows();
    const key = eventStreamKey(probe, row!.partition);
    // 150 entries older than 30 days (more than one 100-entry node, which approximate trimming removes whole).
    const old = Date.now() - 31 * 86_400_000;
    for (let i = 1; i <= 150; i++) await stack.deps.redis.xadd(key, `${old}-${i}`, 'seq', '0');
    await relay.close();
    await stack.deps.db.execute(sql`update audit_outbox_cursors set last_seq = 0 where partition = ${row!.partition}`);
    const added = await relayPartition({ db: stack.deps.db, redis: stack.deps.redis, prefix: probe }, row!.partition);
    expect(added).toBeGreaterThan(0);
    const entries = await stack.deps.redis.xrange(key, '-', '+');
    expect(entries.length).toBeLessThan(150 + added);
    expect(entries.filter(([id]) => id.startsWith(`${old}-`)).length).toBeLessThanOrEqual(50);
    relay = startOutboxRelay({ db: stack.deps.db, redis: stack.deps.redis, prefix: stack.config.MC_QUEUE_PREFIX, logger: stack.deps.logger }, 50);
  });
});
