import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { and, eq } from 'drizzle-orm';
import { executionSteps } from '@mc/server/db/schema';
import { receiptJobId, taskJobId } from '@mc/server/queue/task-queues';
import { startCountingSink, type CountingSink } from '../support/counting-sink.ts';
import { eventually, startTestStack, type TestStack } from '../support/test-stack.ts';

let stack: TestStack;
let sink: CountingSink;
beforeAll(async () => {
  sink = startCountingSink();
  stack = await startTestStack({ MC_HTTP_ALLOWED_HOSTS: sink.host });
});
afterAll(async () => {
  await stack.close();
  await sink.stop();
});

async function publish(manifest: unknown): Promise<string> {
  const wf = await stack.trpc.workflows.create.mutate(manifest);
  await stack.trpc.workflows.publish.mutate({ id: wf.id });
  return wf.id;
}

async function runToEnd(workflowId: string, extra: Record<string, unknown> = {}) {
  const exec = await stack.trpc.executions.start.mutate({ workflowId, ...extra });
  await stack.trpc.receipts.get.query({ executionId: exec.id });
  return stack.trpc.executions.get.query({ id: exec.id });
}

const call = (id: string, needs: string[] = []) => ({ id, uses: 'pkg:mc/http@1.0.0', needs, with: { url: `${sink.url}/${id}`, method: 'POST' } });

describe('the execution engine', () => {
  it('runs a 5-task diamond DAG in dependency order, the middle in parallel', async () => {
    sink.delayMs = 150;
    const wfId = await publish({
      name: 'diamond',
      version: '1.0.0',
      tasks: [call('a'), call('b', ['a']), call('c', ['a']), call('d', ['a']), call('e', ['b', 'c', 'd'])],
    });
    const exec = await runToEnd(wfId);
    sink.delayMs = 0;
    expect(exec.status).toBe('succeeded');
    const byId = new Map(exec.steps.map((s) => [s.taskId, s]));
    const needs: Record<string, string[]> = { b: ['a'], c: ['a'], d: ['a'], e: ['b', 'c', 'd'] };
    for (const [task, deps] of Object.entries(needs)) {
      for (const dep of deps) expect(byId.get(dep)!.finishedAt!.getTime()).toBeLessThanOrEqual(byId.get(task)!.startedAt!.getTime());
    }
    const order = sink.calls.filter((c) => c.key && ['a', 'b', 'c', 'd', 'e'].includes(c.path.slice(1))).map((c) => c.path.slice(1));
    expect(order[0]).toBe('a');
    expect(order[4]).toBe('e');
    // b, c and d overlap: all three started before any of them could have finished.
    const mids = ['b', 'c', 'd'].map((id) => byId.get(id)!);
    const lastStart = Math.max(...mids.map((s) => s.startedAt!.getTime()));
    const firstFinish = Math.min(...mids.map((s) => s.finishedAt!.getTime()));
    expect(lastStart).toBeLessThan(firstFinish);
  });

  it('joins a 30-wide fan-in once: siblings finishing together each count one need, and the join runs once', async () => {
    const mids = Array.from({ length: 30 }, (_, i) => `m${i}`);
    const wfId = await publish({
      name: 'fan-in',
      version: '1.0.0',
      tasks: [{ id: 'root', uses: 'pkg:demo/echo@1.0.0' }, ...mids.map((id) => ({ id, uses: 'pkg:demo/echo@1.0.0', needs: ['root'] })), { id: 'join', uses: 'pkg:demo/echo@1.0.0', needs: mids }],
    });
    const runs = await Promise.all(Array.from({ length: 4 }, () => runToEnd(wfId)));
    for (const exec of runs) {
      expect(exec.status).toBe('succeeded');
      expect(exec.steps.every((s) => s.status === 'succeeded' && s.attempts === 1)).toBe(true);
      const join = exec.steps.find((s) => s.taskId === 'join')!;
      for (const m of exec.steps.filter((s) => s.taskId.startsWith('m'))) expect(m.finishedAt!.getTime()).toBeLessThanOrEqual(join.startedAt!.getTime());
      const [row] = await stack.deps.db
        .select({ remaining: executionSteps.remainingNeeds })
        .from(executionSteps)
        .where(and(eq(executionSteps.executionId, exec.id), eq(executionSteps.taskId, 'join')));
      expect(row!.remaining).toBe(0);
    }
  });

  // A step's key is the spec §11 key scoped by its execution's idempotency token. Clients choose
  // their tokens, so two tenants may pick the same one: the key must still differ, or one tenant's
  // step would be answered with the other's stored result (and its output).
  it('never lets two tenants share a stored result, even with the same manifest, inputs and client idempotency key', async () => {
    const manifest = { name: 'same-everywhere', version: '1.0.0', tasks: [{ id: 'call', uses: 'pkg:mc/http@1.0.0', with: { url: `${sink.url}/tenant-shared`, method: 'POST' } }] };
    const runs = [];
    for (const tenant of ['tenant-x', 'tenant-y']) {
      const client = stack.trpcAs(await stack.tokenFor('admin', tenant));
      const wf = await client.workflows.create.mutate(manifest);
      await client.workflows.publish.mutate({ id: wf.id });
      const exec = await client.executions.start.mutate({ workflowId: wf.id, idempotencyKey: 'client-chosen-key' });
      await client.receipts.get.query({ executionId: exec.id });
      runs.push(await client.executions.get.query({ id: exec.id }));
    }
    expect(runs.map((r) => r.status)).toEqual(['succeeded', 'succeeded']);
    // Each tenant's task acted itself, under a key of its own.
    expect(sink.keysFor('/tenant-shared').size).toBe(2);
  });

  it('has the worker that finished a run store its receipt, with no receipt job', async () => {
    const wfId = await publish({ name: 'receipt-on-finish', version: '1.0.0', tasks: [{ id: 'only', uses: 'pkg:demo/echo@1.0.0' }] });
    const exec = await runToEnd(wfId);
    expect(exec.status).toBe('succeeded');
    expect(exec.receipt?.verified).toBe(true);
    expect(await stack.deps.queues.receipts().getJob(receiptJobId(exec.id))).toBeUndefined();
  });

  it('retries pkg:mc/fail with backoff until it succeeds', async () => {
    const wfId = await publish({ name: 'flaky', version: '1.0.0', tasks: [{ id: 'f', uses: 'pkg:mc/fail@1.0.0', with: { times: 2 }, retries: 3 }] });
    const exec = await runToEnd(wfId);
    expect(exec.status).toBe('succeeded');
    expect(exec.steps[0]!.attempts).toBe(3);
    const logs = await stack.trpc.executions.logs.query({ id: exec.id });
    expect(logs.filter((l) => l.message.startsWith('attempt failed, will retry'))).toHaveLength(2);
  });

  it('fails the execution when retries run out, skips what is downstream, and still signs a receipt', async () => {
    const wfId = await publish({
      name: 'doomed',
      version: '1.0.0',
      tasks: [{ id: 'f', uses: 'pkg:mc/fail@1.0.0', retries: 1 }, { id: 'after', uses: 'pkg:demo/echo@1.0.0', needs: ['f'] }, { id: 'side', uses: 'pkg:demo/echo@1.0.0' }],
    });
    const exec = await runToEnd(wfId);
    expect(exec.status).toBe('failed');
    expect(exec.error).toContain('f');
    const steps = Object.fromEntries(exec.steps.map((s) => [s.taskId, s.status]));
    expect(steps).toEqual({ f: 'failed', after: 'skipped', side: 'succeeded' });
    const receipt = await stack.trpc.receipts.get.query({ executionId: exec.id });
    expect(receipt.verified).toBe(true);
    expect((receipt.receipt as { predicate: { execution: { status: string } } }).predicate.execution.status).toBe('failed');
  });

  it('finishes the run when a step whose dependents were skipped closes the last open step', async () => {
    // f fails at once and j (which needs f and s) is skipped; s, still running, has a dependent
    // but is the last open step: its completion runs without a transaction and the finish after it.
    const wfId = await publish({
      name: 'last-with-dependents',
      version: '1.0.0',
      tasks: [
        { id: 'f', uses: 'pkg:mc/fail@1.0.0' },
        { id: 's', uses: 'pkg:mc/sleep@1.0.0', with: { ms: 300 } },
        { id: 'j', uses: 'pkg:demo/echo@1.0.0', needs: ['f', 's'] },
      ],
    });
    const exec = await runToEnd(wfId);
    expect(exec.status).toBe('failed');
    expect(Object.fromEntries(exec.steps.map((st) => [st.taskId, st.status]))).toEqual({ f: 'failed', j: 'skipped', s: 'succeeded' });
    expect(exec.receipt?.verified).toBe(true);
    expect(await stack.deps.queues.receipts().getJob(receiptJobId(exec.id))).toBeUndefined();
  });

  it('times a task out after its timeoutMs', async () => {
    const wfId = await publish({ name: 'slow', version: '1.0.0', tasks: [{ id: 's', uses: 'pkg:mc/sleep@1.0.0', with: { ms: 5000 }, timeoutMs: 100 }] });
    const exec = await runToEnd(wfId);
    expect(exec.status).toBe('failed');
    expect(exec.steps[0]!.error).toContain('timed out after 100 ms');
  });

  it('passes inputs and upstream outputs through templates', async () => {
    const wfId = await publish({
      name: 'templated',
      version: '1.0.0',
      tasks: [
        { id: 'first', uses: 'pkg:demo/echo@1.0.0', with: { who: '${{ inputs.who }}', n: '${{ inputs.n }}' } },
        { id: 'second', uses: 'pkg:demo/echo@1.0.0', needs: ['first'], with: { greeting: 'hello ${{ tasks.first.output.who }}', n: '${{ tasks.first.output.n }}' } },
      ],
    });
    const exec = await runToEnd(wfId, { inputs: { who: 'Ada', n: 3 } });
    expect(exec.status).toBe('succeeded');
    const second = await stack.deps.db
      .select()
      .from(executionSteps)
      .where(and(eq(executionSteps.executionId, exec.id), eq(executionSteps.taskId, 'second')));
    // Stored encrypted (server/payloads/); the repository opens it.
    const { findTaskResult } = await import('@mc/server/executions/repository');
    const result = await findTaskResult(stack.deps.db, second[0]!.idempotencyKey!);
    expect(result!.output).toEqual({ greeting: 'hello Ada', n: 3 });
  });

  it('returns the same execution for a start repeated with the same idempotencyKey', async () => {
    const wfId = await publish({ name: 'once', version: '1.0.0', tasks: [call('once')] });
    const key = `order-${crypto.randomUUID()}`;
    const [a, b] = await Promise.all([
      stack.trpc.executions.start.mutate({ workflowId: wfId, idempotencyKey: key, inputs: { x: 1 } }),
      stack.trpc.executions.start.mutate({ workflowId: wfId, idempotencyKey: key, inputs: { x: 1 } }),
    ]);
    expect(a.id).toBe(b.id);
    expect([a.created, b.created].sort()).toEqual([false, true]);
    const again = await stack.rest('POST', '/api/executions', { workflowId: wfId, idempotencyKey: key, inputs: { x: 1 } });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(a.id);
    const clash = await stack.rest('POST', '/api/executions', { workflowId: wfId, idempotencyKey: key, inputs: { x: 2 } });
    expect(clash.status).toBe(409);
    await stack.trpc.receipts.get.query({ executionId: a.id });
    expect(sink.calls.filter((c) => c.path === '/once')).toHaveLength(1);
  });

  it('acts once when a task is delivered twice', async () => {
    const wfId = await publish({ name: 'twice', version: '1.0.0', tasks: [call('twice')] });
    const exec = await runToEnd(wfId);
    expect(sink.calls.filter((c) => c.path === '/twice')).toHaveLength(1);
    const queue = stack.deps.queues.queueFor('default');

    // A redelivery of a finished step is ignored.
    await queue.add('task', { executionId: exec.id, taskId: 'twice' }, { jobId: `${taskJobId(exec.id, 'twice')}.redelivery` });
    // A redelivery after a crash between "result stored" and "step marked done": the step is
    // running again in Postgres, and the stored result is returned instead of calling again.
    const wfId2 = await publish({ name: 'twice-b', version: '1.0.0', tasks: [call('twiceb'), { id: 'next', uses: 'pkg:demo/echo@1.0.0', needs: ['twiceb'] }] });
    const exec2 = await runToEnd(wfId2);
    await stack.deps.db.update(executionSteps).set({ status: 'running' }).where(and(eq(executionSteps.executionId, exec2.id), eq(executionSteps.taskId, 'twiceb')));
    const { executions } = await import('@mc/server/db/schema');
    await stack.deps.db.update(executions).set({ status: 'running' }).where(eq(executions.id, exec2.id));
    const redelivered = await queue.add('task', { executionId: exec2.id, taskId: 'twiceb' }, { jobId: `${taskJobId(exec2.id, 'twiceb')}.redelivery` });
    await eventually(async () => (await redelivered.isCompleted()) || null, { what: 'redelivered job to finish' });
    const logs = await stack.trpc.executions.logs.query({ id: exec2.id });
    expect(logs.some((l) => l.message.includes('stored result reused'))).toBe(true);
    expect(sink.calls.filter((c) => c.path === '/twice')).toHaveLength(1);
    expect(sink.calls.filter((c) => c.path === '/twiceb')).toHaveLength(1);
  });

  it('keeps secrets and PII out of responses and step logs', async () => {
    const wfId = await publish({ name: 'pii', version: '1.0.0', dataClassification: 'regulated', tasks: [{ id: 'e', uses: 'pkg:demo/echo@1.0.0', with: { email: '${{ inputs.email }}', password: '${{ inputs.password }}' } }] });
    const exec = await runToEnd(wfId, { inputs: { email: 'ada@example.com', password: 'hunter2-marker' } });
    const text = JSON.stringify(exec) + JSON.stringify(await stack.trpc.executions.logs.query({ id: exec.id }));
    expect(text).not.toContain('ada@example.com');
    expect(text).not.toContain('hunter2-marker');
  });
});
