import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { expectAcceptedAllSettled } from '../support/invariants.ts';
import { startViaRest, startViaTrpc } from '../support/start-load.ts';
import { eventually, startTestStack, type TestStack } from '../support/test-stack.ts';

// No worker runs until a test starts one: work piles up, as behind workers that stopped consuming.
let stack: TestStack;
let workflowId: string;
const runtimes: ReturnType<TestStack['startWorker']>[] = [];
const startWorker = () => {
  const r = stack.startWorker();
  runtimes.push(r);
  return r;
};
beforeAll(async () => {
  stack = await startTestStack({ MC_QUEUE_STALL_SECONDS: '1', MC_MAX_QUEUE_DEPTH: '3' }, { worker: false });
  const wf = await stack.trpc.workflows.create.mutate({ name: 'backlog', version: '1.0.0', tasks: [{ id: 'nap', uses: 'pkg:mc/sleep@1.0.0', with: { ms: 10 } }] });
  await stack.trpc.workflows.publish.mutate({ id: wf.id });
  workflowId = wf.id;
});
afterAll(async () => {
  await stack.close();
});

const readyz = async () => {
  const res = await stack.rest('GET', '/readyz');
  return { status: res.status, body: res.body as { status: string; checks: Record<string, string> } };
};
const stalledGauge = async () => {
  const text = (await stack.rest('GET', '/metrics')).body as string;
  const line = text.split('\n').find((l) => l.startsWith('mc_queue_stalled{queue="mc-tasks-default"}'));
  return line ? Number(line.split(' ').at(-1)) : null;
};
// The depth reading is cached for ~1 s: wait it out so the next start sees the current depth.
const depthCacheExpiry = () => Bun.sleep(1_100);

describe('queue liveness and backpressure', () => {
  it('reports a queue with work waiting and no worker consuming as stalled, in /readyz and mc_queue_stalled, until a worker drains it', async () => {
    const accepted = [(await startViaRest(stack, workflowId)).executionId!];
    expect((await readyz()).body.checks.queues).toBe('ok'); // first sight of the backlog: not yet stalled
    await Bun.sleep(1_200);

    const stuck = await readyz();
    // Reported, not fatal: the server can still accept work, so it stays in rotation.
    expect(stuck).toMatchObject({ status: 200, body: { status: 'degraded', checks: { queues: 'stalled: mc-tasks-default', database: 'ok', redis: 'ok' } } });
    expect(await stalledGauge()).toBe(1);

    startWorker();
    await expectAcceptedAllSettled(stack.deps, accepted, { timeoutMs: 30_000 });
    await eventually(async () => (await readyz()).body.status === 'ready', { what: 'the queue to be reported live again' });
    expect(await stalledGauge()).toBe(0);
  }, 60_000);

  it('answers starts with 429 and Retry-After above MC_MAX_QUEUE_DEPTH, over REST and tRPC, and admits again once drained', async () => {
    if (runtimes.length === 0) startWorker();
    const workers = runtimes.flatMap((r) => r.workers);
    await Promise.all(workers.map((w) => w.pause()));
    await depthCacheExpiry();
    const accepted: string[] = [];
    for (let i = 0; i < 3; i++) accepted.push((await startViaRest(stack, workflowId)).executionId!);
    await depthCacheExpiry();

    for (const refused of [await startViaRest(stack, workflowId), await startViaTrpc(stack, workflowId)]) {
      expect({ via: refused.via, status: refused.status }).toEqual({ via: refused.via, status: 429 });
      expect(Number(refused.retryAfter)).toBeGreaterThan(0);
    }
    const body = (await stack.rest('POST', '/api/executions', { workflowId })).body as { error: { code: string; details: { queueDepth: number; limit: number } } };
    expect(body.error).toMatchObject({ code: 'RATE_LIMITED', details: { limit: 3 } });
    expect(body.error.details.queueDepth).toBeGreaterThanOrEqual(3);

    workers.forEach((w) => w.resume());
    await expectAcceptedAllSettled(stack.deps, accepted, { timeoutMs: 30_000 });
    await depthCacheExpiry();
    expect((await startViaRest(stack, workflowId)).status).toBe(201);
  }, 60_000);
});
