import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { claimStep, decrementOpenSteps, findExecutionSealed, findExecutionWithKey, findSteps, findStepsIfNoneOpen } from '@mc/server/executions/repository';
import { findDataKey } from '@mc/server/payloads/data-key-repository';
import { startTestStack, type TestStack } from '../support/test-stack.ts';

// The claim is one hand-written statement (claim + the execution's start); its row must be the row drizzle's own select gives.
let stack: TestStack;
let workflowId: string;

beforeAll(async () => {
  stack = await startTestStack({}, { worker: false });
  const wf = await stack.trpc.workflows.create.mutate({
    name: 'claims',
    version: '1.0.0',
    tasks: [
      { id: 'a', uses: 'pkg:demo/echo@1.0.0' },
      { id: 'b', uses: 'pkg:demo/echo@1.0.0' },
    ],
  });
  await stack.trpc.workflows.publish.mutate({ id: wf.id });
  workflowId = wf.id;
});
afterAll(() => stack.close());

describe('claimStep', () => {
  it('claims the step, starts the pending execution once, and returns the row as a select maps it', async () => {
    const run = await stack.trpc.executions.start.mutate({ workflowId, inputs: { n: 1 } });
    const first = await claimStep(stack.deps.db, run.id, 'a');
    expect(first).not.toBeNull();
    const [stepA] = (await findSteps(stack.deps.db, run.id)).filter((s) => s.taskId === 'a');
    expect(first!.step).toEqual(stepA!);
    expect(first!.step).toMatchObject({ status: 'running', attempts: 1 });
    expect(first!.step.startedAt).toBeInstanceOf(Date);
    expect(typeof first!.step.costUsd).toBe('string');

    const execution = await findExecutionSealed(stack.deps.db, run.id);
    expect(execution!.status).toBe('running');
    expect(first!.started).toEqual({ createdAt: execution!.createdAt, startedAt: execution!.startedAt! });

    // The sibling's claim, and a redelivery of the first step, do not start it again.
    const second = await claimStep(stack.deps.db, run.id, 'b');
    expect(second!.started).toBeNull();
    const again = await claimStep(stack.deps.db, run.id, 'a');
    expect(again!.started).toBeNull();
    expect(again!.step.attempts).toBe(2);
    expect(again!.step.startedAt).toEqual(first!.step.startedAt);
    expect((await findExecutionSealed(stack.deps.db, run.id))!.startedAt).toEqual(execution!.startedAt);
  });

  it('claims nothing, and starts nothing, for an unknown step or a stopped execution', async () => {
    const run = await stack.trpc.executions.start.mutate({ workflowId, inputs: {} });
    expect(await claimStep(stack.deps.db, run.id, 'zz')).toBeNull();
    expect((await findExecutionSealed(stack.deps.db, run.id))!.status).toBe('pending');
    await stack.trpc.executions.cancel.mutate({ id: run.id });
    expect(await claimStep(stack.deps.db, run.id, 'a')).toBeNull();
  });
});

describe('findExecutionWithKey', () => {
  it('reads the execution with its data key, as the two separate reads do', async () => {
    const run = await stack.trpc.executions.start.mutate({ workflowId, inputs: { secret: 'x' } });
    const both = await findExecutionWithKey(stack.deps.db, run.id);
    expect(both!.execution).toEqual((await findExecutionSealed(stack.deps.db, run.id))!);
    expect(both!.dataKey).toEqual((await findDataKey(stack.deps.db, run.id))!);
    expect(await findExecutionWithKey(stack.deps.db, crypto.randomUUID())).toBeNull();
  });
});

describe('findStepsIfNoneOpen', () => {
  it('reads nothing while a step is open, and every step once none is', async () => {
    const run = await stack.trpc.executions.start.mutate({ workflowId, inputs: {} });
    expect(await findStepsIfNoneOpen(stack.deps.db, run.id)).toEqual([]);
    await decrementOpenSteps(stack.deps.db, run.id, 1);
    expect(await findStepsIfNoneOpen(stack.deps.db, run.id)).toEqual([]);
    await decrementOpenSteps(stack.deps.db, run.id, 1);
    expect(await findStepsIfNoneOpen(stack.deps.db, run.id)).toEqual(await findSteps(stack.deps.db, run.id));
    expect((await findSteps(stack.deps.db, run.id)).map((s) => s.taskId)).toEqual(['a', 'b']);
  });
});
