import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import type { Subprocess } from 'bun';
import { killHard, spawnMc } from '../support/child-process.ts';
import { eventually, startTestStack, type TestStack } from '../support/test-stack.ts';

let stack: TestStack;
const children: Subprocess[] = [];
beforeAll(async () => {
  stack = await startTestStack({ WORKER_LOCK_MS: '2000', WORKER_STALLED_INTERVAL_MS: '1000' }, { worker: false });
});
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await stack.close();
});

const worker = () => {
  const p = spawnMc('worker/main.ts', stack.env);
  children.push(p);
  return p;
};

describe('a durable pkg:mc/sleep when its worker is killed with SIGKILL mid-sleep', () => {
  it('completes on another worker at the original wake-up time, without sleeping again', async () => {
    const wf = await stack.trpc.workflows.create.mutate({
      name: 'durable-nap',
      version: '1.0.0',
      tasks: [
        { id: 'nap', uses: 'pkg:mc/sleep@1.0.0', with: { ms: 5_000 } },
        { id: 'after', uses: 'pkg:demo/echo@1.0.0', needs: ['nap'] },
      ],
    });
    await stack.trpc.workflows.publish.mutate({ id: wf.id });
    const first = worker();
    const exec = await stack.trpc.executions.start.mutate({ workflowId: wf.id });

    // The sleep is recorded in Postgres (waiting, with its wake-up time) and holds no worker slot.
    const waiting = await eventually(
      async () => {
        const s = (await stack.trpc.executions.get.query({ id: exec.id })).steps.find((x) => x.taskId === 'nap')!;
        return s.status === 'waiting' ? s : null;
      },
      { what: 'the sleep to be waiting', timeoutMs: 30_000 },
    );
    const wakeAt = waiting.wakeAt!.getTime();
    expect(wakeAt - waiting.startedAt!.getTime()).toBe(5_000);
    await Bun.sleep(2_500);
    await killHard(first);

    worker();
    const receipt = await stack.trpc.receipts.get.query({ executionId: exec.id, waitMs: 60_000 });
    expect(receipt.verified).toBe(true);
    const done = await stack.trpc.executions.get.query({ id: exec.id });
    expect(done.status).toBe('succeeded');
    const nap = done.steps.find((s) => s.taskId === 'nap')!;
    // One attempt: waking up is the same attempt going on, not a retry.
    expect(nap.attempts).toBe(1);
    // Woke at the time recorded before the crash — a sleep started over would end 2.5 s later.
    expect(nap.finishedAt!.getTime()).toBeGreaterThanOrEqual(wakeAt);
    expect(nap.finishedAt!.getTime() - wakeAt).toBeLessThan(2_000);
  }, 90_000);
});
