import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import type { Subprocess } from 'bun';
import { spawnMc } from '../support/child-process.ts';
import { expectAcceptedAllSettled } from '../support/invariants.ts';
import { PrivateRedis } from '../support/private-redis.ts';
import { startLoad, startViaRest, startViaTrpc, type StartAnswer } from '../support/start-load.ts';
import { eventually, startTestStack, type TestStack } from '../support/test-stack.ts';

let redis: PrivateRedis;
let stack: TestStack;
let worker: Subprocess;
let workflowId: string;
// PrivateRedis.up() on a running server would start a second one and lose track of the first.
let redisDown = false;
beforeAll(async () => {
  redis = await PrivateRedis.start();
  stack = await startTestStack({ REDIS_URL: redis.url }, { worker: false });
  worker = spawnMc('worker/main.ts', stack.env);
  const wf = await stack.trpc.workflows.create.mutate({
    name: 'redis-outage',
    version: '1.0.0',
    tasks: [
      { id: 'nap', uses: 'pkg:mc/sleep@1.0.0', with: { ms: 100 } },
      { id: 'after', uses: 'pkg:mc/sleep@1.0.0', needs: ['nap'], with: { ms: 20 } },
    ],
  });
  await stack.trpc.workflows.publish.mutate({ id: wf.id });
  workflowId = wf.id;
});
afterAll(async () => {
  worker?.kill('SIGKILL');
  await worker?.exited;
  if (redisDown) await redis.up(); // close() clears the queue keys
  await stack?.close();
  await redis?.stop();
});

/** Stops Redis for `ms`, probing starts while it is down; returns the probes and how long until a start is acknowledged again. */
async function outage(ms: number): Promise<{ probes: StartAnswer[]; recoveryMs: number }> {
  await redis.down();
  redisDown = true;
  const downAt = Date.now();
  await Bun.sleep(Math.min(500, ms / 2));
  const probes = [await startViaRest(stack, workflowId), await startViaTrpc(stack, workflowId)];
  await Bun.sleep(Math.max(0, ms - (Date.now() - downAt)));
  await redis.up();
  redisDown = false;
  const upAt = Date.now();
  await eventually(async () => (await startViaRest(stack, workflowId)).status === 201, { what: 'starts to be acknowledged again', timeoutMs: 30_000 });
  return { probes, recoveryMs: Date.now() - upAt };
}

describe('a Redis outage under light load', () => {
  it('answers 503 with Retry-After while Redis is down, and every acknowledged execution ends with a receipt', async () => {
    const load = startLoad(stack, workflowId, 200);
    await Bun.sleep(3_000);
    const short = await outage(2_000);
    await Bun.sleep(2_000);
    const long = await outage(8_000);
    await Bun.sleep(2_000);
    await load.stop();

    for (const probe of [...short.probes, ...long.probes]) {
      expect({ via: probe.via, status: probe.status }).toEqual({ via: probe.via, status: 503 });
      expect(Number(probe.retryAfter)).toBeGreaterThan(0);
    }
    // Every answer was an acknowledgement or a retryable refusal: never a 500.
    const refused = load.answers.filter((a) => a.executionId === null);
    for (const a of refused) expect({ status: a.status, retryAfter: a.retryAfter !== null }).toEqual({ status: 503, retryAfter: true });
    const accepted = load.accepted();
    expect(accepted.length).toBeGreaterThan(20);

    // The worker child reconnected by itself: everything acknowledged finishes, with receipts.
    const report = await expectAcceptedAllSettled(stack.deps, accepted, { timeoutMs: 60_000 });
    expect(report.byStatus).toEqual({ succeeded: accepted.length });
    console.info(`redis-outage: short recovery ${short.recoveryMs} ms, long recovery ${long.recoveryMs} ms, ${accepted.length} accepted, ${refused.length} refused`);
  }, 110_000);
});
