import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import type { Subprocess } from 'bun';
import { killHard, spawnMc } from '../support/child-process.ts';
import { startCountingSink, type CountingSink } from '../support/counting-sink.ts';
import { eventually, startTestStack, type TestStack } from '../support/test-stack.ts';

let stack: TestStack;
let sink: CountingSink;
const children: Subprocess[] = [];
beforeAll(async () => {
  sink = startCountingSink();
  stack = await startTestStack({ MC_HTTP_ALLOWED_HOSTS: sink.host, WORKER_LOCK_MS: '2000', WORKER_STALLED_INTERVAL_MS: '1000' }, { worker: false });
});
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await stack.close();
  await sink.stop();
});

const worker = () => {
  const p = spawnMc('worker/main.ts', stack.env);
  children.push(p);
  return p;
};

describe('a worker killed with SIGKILL mid-execution', () => {
  it('lets a new worker finish the execution, each side effect once, with a receipt', async () => {
    const tasks = ['s1', 's2', 's3', 's4'].map((id, i, all) => ({
      id,
      uses: 'pkg:mc/http@1.0.0',
      needs: i === 0 ? [] : [all[i - 1]!],
      with: { url: `${sink.url}/${id}`, method: 'POST' },
    }));
    const wf = await stack.trpc.workflows.create.mutate({ name: 'crash', version: '1.0.0', tasks });
    await stack.trpc.workflows.publish.mutate({ id: wf.id });

    const first = worker();
    sink.delayMs = 1500;
    const exec = await stack.trpc.executions.start.mutate({ workflowId: wf.id });
    // Let s1 finish, then kill the worker while s2's call is in flight.
    await eventually(async () => sink.calls.some((c) => c.path === '/s2') || null, { what: 's2 to start', timeoutMs: 30_000 });
    await killHard(first);
    sink.delayMs = 50;

    const mid = await stack.trpc.executions.get.query({ id: exec.id });
    expect(mid.status).toBe('running');

    worker();
    const receipt = await stack.trpc.receipts.get.query({ executionId: exec.id, waitMs: 60_000 });
    expect(receipt.verified).toBe(true);
    const done = await stack.trpc.executions.get.query({ id: exec.id });
    expect(done.status).toBe('succeeded');

    for (const id of ['s1', 's2', 's3', 's4']) {
      // One idempotency key per task across every delivery: the receiver acted once.
      expect(sink.keysFor(`/${id}`).size).toBe(1);
    }
    // Work finished before the crash was not repeated; only the interrupted task was attempted again.
    expect(sink.calls.filter((c) => c.path === '/s1')).toHaveLength(1);
    expect(sink.calls.filter((c) => c.path === '/s2').length).toBeGreaterThanOrEqual(2);
    expect(sink.calls.filter((c) => c.path === '/s3')).toHaveLength(1);
    expect(done.steps.find((s) => s.taskId === 's2')!.attempts).toBeGreaterThanOrEqual(2);
  }, 90_000);
});
