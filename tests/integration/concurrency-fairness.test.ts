import { afterAll, describe, expect, it } from 'bun:test';
import { and, eq, lt, sql } from 'drizzle-orm';
import { executionSteps } from '@mc/server/db/schema';
import { eventually, startTestStack, type TestStack } from '../support/test-stack.ts';

const stacks: TestStack[] = [];
afterAll(async () => {
  for (const s of stacks) await s.close();
});

describe('concurrency keys and priorities', () => {
  it('never overlaps two runs with the same key, lets another key run alongside, and admits higher priority first', async () => {
    const stack = await startTestStack();
    stacks.push(stack);
    const wf = await stack.trpc.workflows.create.mutate({
      name: 'per-customer',
      version: '1.0.0',
      concurrency: { limit: 1, key: '${{ inputs.customer }}' },
      tasks: [{ id: 'work', uses: 'pkg:mc/sleep@1.0.0', with: { ms: 400 } }],
    });
    await stack.trpc.workflows.publish.mutate({ id: wf.id });
    const start = (customer: string, priority?: 'high' | 'normal' | 'low') =>
      stack.trpc.executions.start.mutate({ workflowId: wf.id, inputs: { customer }, ...(priority ? { priority } : {}) });

    const a1 = await start('acme');
    const a2 = await start('acme');
    const a3 = await start('acme', 'high');
    const g1 = await start('globex');
    expect([a1.status, a2.status, a3.status, g1.status]).toEqual(['pending', 'queued', 'queued', 'pending']);
    expect(a2.concurrencyKey).toBe('per-customer/acme');

    for (const e of [a1, a2, a3, g1]) await stack.trpc.receipts.get.query({ executionId: e.id, waitMs: 30_000 });
    const [r1, r2, r3, rg] = await Promise.all([a1, a2, a3, g1].map((e) => stack.trpc.executions.get.query({ id: e.id })));
    for (const r of [r1, r2, r3, rg]) expect(r!.status).toBe('succeeded');
    // acme's runs one after another, the high-priority one first among those that waited.
    const acme = [r1!, r3!, r2!];
    for (let i = 1; i < acme.length; i++) expect(acme[i]!.startedAt!.getTime()).toBeGreaterThanOrEqual(acme[i - 1]!.finishedAt!.getTime());
    // globex did not wait for acme.
    expect(rg!.startedAt!.getTime()).toBeLessThan(r1!.finishedAt!.getTime());
    const history = await stack.trpc.executions.transitions.query({ id: a2.id });
    expect(history.map((h) => h.type)).toEqual(['mc.execution.queued', 'mc.execution.admitted', 'mc.execution.finished', 'mc.execution.receipt.signed']);
  }, 60_000);
});

describe('round-robin fairness between tenants', () => {
  it("starts tenant B's one run within its fair share while tenant A has 1,000 queued", async () => {
    const stack = await startTestStack(
      { MC_QUOTA_CONCURRENT_EXECUTIONS: '5000', MC_RATE_LIMIT_PER_TOKEN: '100000', MC_RATE_LIMIT_PER_TENANT: '100000', WORKER_CONCURRENCY: '16' },
      { worker: false },
    );
    stacks.push(stack);
    const clientFor = async (tenant: string) => stack.trpcAs(await stack.tokenFor('admin', tenant));
    const [a, b] = [await clientFor('tenant-a'), await clientFor('tenant-b')];
    const publish = async (client: typeof a, name: string) => {
      const wf = await client.workflows.create.mutate({ name, version: '1.0.0', tasks: [{ id: 'step', uses: 'pkg:demo/echo@1.0.0' }] });
      await client.workflows.publish.mutate({ id: wf.id });
      return wf.id;
    };
    const [wfA, wfB] = [await publish(a, 'flood'), await publish(b, 'single')];

    // Tenant A floods first; B's single run comes after all of A's.
    const floodStarted = Date.now();
    for (let i = 0; i < 1000; i += 50) await Promise.all(Array.from({ length: 50 }, () => a.executions.start.mutate({ workflowId: wfA })));
    const floodMs = Date.now() - floodStarted;
    const single = await b.executions.start.mutate({ workflowId: wfB });
    const staged = await stack.deps.queues.fair.stagedCount('default');

    const workerStarted = Date.now();
    stack.startWorker();
    const started = await eventually(
      async () => {
        const s = (await b.executions.get.query({ id: single.id })).steps[0]!;
        return s.startedAt ? s.startedAt : null;
      },
      { what: "tenant B's run to start", timeoutMs: 120_000 },
    );
    const bWaitMs = Date.now() - workerStarted;
    const [row] = await stack.deps.db
      .select({ n: sql<number>`count(*)::int` })
      .from(executionSteps)
      .innerJoin(sql`executions e`, sql`e.id = ${executionSteps.executionId}`)
      .where(and(eq(sql`e.workflow_id`, wfA), lt(executionSteps.startedAt, started)));
    const aBeforeB = row!.n;
    // Under FIFO, B's task would start after all 1,000 of A's; round-robin lets it in after at most
    // one dispatch window (MC_DISPATCH_WINDOW, 64) plus what the worker already held.
    console.log(`fairness: ${floodMs} ms to start 1,000 runs of A (${staged} tasks staged); B started after ${aBeforeB} of A's tasks, ${bWaitMs} ms after the worker started`);
    expect(aBeforeB).toBeLessThan(200);
  }, 240_000);
});
