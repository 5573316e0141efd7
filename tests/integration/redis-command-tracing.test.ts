import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import diagnosticsChannel from 'node:diagnostics_channel';
import type { Redis } from 'ioredis';
import { createRedisConnection, settleConnection } from '@mc/server/queue/redis-connection';
import { testRedisUrl } from '../support/test-database.ts';

// ioredis 6 traces a command unless its tracing channel says `hasSubscribers === false`; Bun's
// TracingChannel had no such getter, so every command of MC's was traced with nobody listening.
describe('ioredis command tracing on MC connections', () => {
  let redis: Redis;
  const commandChannel = diagnosticsChannel.tracingChannel('ioredis:command');

  beforeAll(async () => {
    redis = createRedisConnection(testRedisUrl, 'client');
    expect(await settleConnection(redis)).toBe(true);
  });
  afterAll(async () => {
    await redis.quit();
  });

  it('says nobody listens when nobody does, so commands skip tracing', async () => {
    expect(commandChannel.hasSubscribers).toBe(false);
    expect(await redis.ping()).toBe('PONG');
  });

  it('still traces commands for a subscriber, and stops when it leaves', async () => {
    const seen: string[] = [];
    const handlers = { start: (ctx: unknown) => void seen.push((ctx as { command: string }).command) };
    commandChannel.subscribe(handlers as Parameters<typeof commandChannel.subscribe>[0]);
    try {
      expect(commandChannel.hasSubscribers).toBe(true);
      await redis.echo('traced');
      expect(seen).toContain('echo');
    } finally {
      commandChannel.unsubscribe(handlers as Parameters<typeof commandChannel.unsubscribe>[0]);
    }
    expect(commandChannel.hasSubscribers).toBe(false);
    const before = seen.length;
    await redis.echo('not traced');
    expect(seen.length).toBe(before);
  });

  it('leaves each of the five channels to report its own subscribers', () => {
    const ch = diagnosticsChannel.tracingChannel('mc:test:tracing');
    for (const name of ['start', 'end', 'asyncStart', 'asyncEnd', 'error'] as const) {
      const fn = () => {};
      ch.subscribe({ [name]: fn } as Parameters<typeof ch.subscribe>[0]);
      expect(ch.hasSubscribers).toBe(true);
      ch.unsubscribe({ [name]: fn } as Parameters<typeof ch.unsubscribe>[0]);
      expect(ch.hasSubscribers).toBe(false);
    }
  });
});
