import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import type { Subprocess } from 'bun';
import { spawnMc } from '../support/child-process.ts';
import { startCountingSink, type CountingSink } from '../support/counting-sink.ts';
import { expectAcceptedAllSettled } from '../support/invariants.ts';
import { eventually, startTestStack, type TestStack } from '../support/test-stack.ts';

let stack: TestStack;
let sink: CountingSink;
const children: Subprocess[] = [];
beforeAll(async () => {
  sink = startCountingSink();
  stack = await startTestStack({ MC_HTTP_ALLOWED_HOSTS: sink.host, WORKER_CONCURRENCY: '4' }, { worker: false });
});
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await Promise.all(children.map((c) => c.exited));
  await stack.close();
  await sink.stop();
});

const worker = () => {
  const p = spawnMc('worker/main.ts', stack.env);
  children.push(p);
  return p;
};

describe('a worker sent SIGTERM with tasks in flight', () => {
  it('drains them, exits 0, and a new worker finishes the rest, each side effect once', async () => {
    const wf = await stack.trpc.workflows.create.mutate({
      name: 'graceful',
      version: '1.0.0',
      tasks: [
        { id: 'call', uses: 'pkg:mc/http@1.0.0', with: { url: `${sink.url}/call`, method: 'POST' } },
        { id: 'nap', uses: 'pkg:mc/sleep@1.0.0', needs: ['call'], with: { ms: 300 } },
      ],
    });
    await stack.trpc.workflows.publish.mutate({ id: wf.id });

    const first = worker();
    sink.delayMs = 1_500;
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) ids.push((await stack.trpc.executions.start.mutate({ workflowId: wf.id })).id);
    // Four calls (the worker's concurrency) are held in flight by the slow sink.
    await eventually(async () => sink.calls.length >= 4 || null, { what: 'calls in flight', timeoutMs: 30_000 });

    const signalledAt = Date.now();
    first.kill('SIGTERM');
    const code = await first.exited;
    const drainMs = Date.now() - signalledAt;
    expect(code).toBe(0);
    // It waited for its in-flight calls (held ~1.5 s) rather than abandoning them.
    const inFlightAtSignal = sink.calls.filter((c) => c.at <= signalledAt).length;
    expect(sink.effects.size).toBeGreaterThanOrEqual(inFlightAtSignal);

    sink.delayMs = 0;
    worker();
    const report = await expectAcceptedAllSettled(stack.deps, ids, { timeoutMs: 60_000 });
    expect(report.byStatus).toEqual({ succeeded: ids.length });
    // One idempotency key per execution's call: a drained task was not run again elsewhere.
    const keys = sink.keysFor('/call');
    expect(keys.size).toBe(ids.length);
    for (const key of keys) expect(sink.calls.filter((c) => c.key === key)).toHaveLength(1);
    console.info(`graceful-shutdown: drained ${inFlightAtSignal} in-flight calls and exited in ${drainMs} ms`);
  }, 100_000);
});
