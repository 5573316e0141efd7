import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { digestOf } from '@mc/shared/canonical-json';
import { eq } from 'drizzle-orm';
import { executionDataKeys, taskResults } from '@mc/server/db/schema';
import { claimStep, completeStepStatement, decrementOpenSteps, findExecutionSealed, findSteps, findStepsIfNoneOpen, findTaskResult, lockExecutionRow, markStepWaiting } from '@mc/server/executions/repository';
import { sealTaskResult } from '@mc/server/payloads/payload-boundary';
import { findDataKey } from '@mc/server/payloads/data-key-repository';
import { startTestStack, type TestStack } from '../support/test-stack.ts';

// The claim (claim + the execution's start) and the completion (result + step + counts) are hand-written
// statements: the claim's row must be the row drizzle's own select gives; the completion stores the result once per key.
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

describe('claimStep reads the execution with its data key', () => {
  it('as the separate reads give them (the execution as the claim found it, before its start)', async () => {
    const run = await stack.trpc.executions.start.mutate({ workflowId, inputs: { secret: 'x' } });
    const before = (await findExecutionSealed(stack.deps.db, run.id))!;
    const claim = await claimStep(stack.deps.db, run.id, 'a');
    expect(claim!.execution).toEqual(before);
    expect(claim!.execution.status).toBe('pending');
    expect(claim!.dataKey).toEqual((await findDataKey(stack.deps.db, run.id))!);
    // A later claim sees the run started.
    const second = await claimStep(stack.deps.db, run.id, 'b');
    expect(second!.execution).toEqual((await findExecutionSealed(stack.deps.db, run.id))!);
    expect(second!.execution.status).toBe('running');
  });

  it('gives a null key for an execution without a key row', async () => {
    const run = await stack.trpc.executions.start.mutate({ workflowId, inputs: {} });
    await stack.deps.db.delete(executionDataKeys).where(eq(executionDataKeys.executionId, run.id));
    const claim = await claimStep(stack.deps.db, run.id, 'a');
    expect(claim!.dataKey).toBeNull();
    expect(claim!.execution.id).toBe(run.id);
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

describe('completeStepStatement with the task result', () => {
  const completion = (executionId: string, taskId: string, key: string, outputDigest: string) => ({
    executionId,
    taskId,
    idempotencyKey: key,
    outputDigest,
    costUsd: '0',
    finishedAt: new Date(),
    durationMs: 1,
  });
  const resultRow = async (executionId: string, taskId: string, key: string, output: unknown) => {
    const { tenantId } = (await findExecutionSealed(stack.deps.db, executionId))!;
    return sealTaskResult(stack.deps.db, { idempotencyKey: key, tenantId, executionId, taskId, output, outputDigest: digestOf(output) });
  };
  const movable = ['pending', 'running'] as const;

  it('stores the result and completes the step with its digest, in one statement', async () => {
    const run = await stack.trpc.executions.start.mutate({ workflowId, inputs: {} });
    await claimStep(stack.deps.db, run.id, 'a');
    const key = `test:${crypto.randomUUID()}`;
    const sealed = await resultRow(run.id, 'a', key, { hello: 'world' });
    const done = await completeStepStatement(stack.deps.db, completion(run.id, 'a', key, sealed.outputDigest), movable, [], sealed);
    expect(done).toEqual({ locked: { status: 'running', openSteps: 1 }, moved: true, released: [] });
    expect((await findTaskResult(stack.deps.db, key))!.output).toEqual({ hello: 'world' });
    const [stepA] = (await findSteps(stack.deps.db, run.id)).filter((s) => s.taskId === 'a');
    expect(stepA).toMatchObject({ status: 'succeeded', idempotencyKey: key, outputDigest: digestOf({ hello: 'world' }) });
  });

  it('keeps the result an earlier delivery stored under the key, and records its digest', async () => {
    const run = await stack.trpc.executions.start.mutate({ workflowId, inputs: {} });
    await claimStep(stack.deps.db, run.id, 'a');
    const key = `test:${crypto.randomUUID()}`;
    const earlier = await resultRow(run.id, 'a', key, { first: true });
    await stack.deps.db.insert(taskResults).values(earlier);
    const ours = await resultRow(run.id, 'a', key, { first: false });
    const done = await completeStepStatement(stack.deps.db, completion(run.id, 'a', key, ours.outputDigest), movable, [], ours);
    expect(done.moved).toBe(true);
    expect((await findTaskResult(stack.deps.db, key))!.output).toEqual({ first: true });
    const [stepA] = (await findSteps(stack.deps.db, run.id)).filter((s) => s.taskId === 'a');
    expect(stepA!.outputDigest).toBe(digestOf({ first: true }));
  });

  it('stores the result even when the step does not move (its run was stopped), as a separate insert would', async () => {
    const run = await stack.trpc.executions.start.mutate({ workflowId, inputs: {} });
    await claimStep(stack.deps.db, run.id, 'a');
    await stack.trpc.executions.cancel.mutate({ id: run.id });
    const key = `test:${crypto.randomUUID()}`;
    const sealed = await resultRow(run.id, 'a', key, 7);
    const done = await completeStepStatement(stack.deps.db, completion(run.id, 'a', key, sealed.outputDigest), movable, [], sealed);
    expect(done).toEqual({ locked: null, moved: false, released: [] });
    expect((await findTaskResult(stack.deps.db, key))!.output).toBe(7);
    const [stepA] = (await findSteps(stack.deps.db, run.id)).filter((s) => s.taskId === 'a');
    expect(stepA!.status).toBe('running');
  });
});

describe('markStepWaiting', () => {
  it('waits for a control action holding the execution (a signal being recorded) to commit, so the task re-checks after it', async () => {
    const run = await stack.trpc.executions.start.mutate({ workflowId, inputs: {} });
    await claimStep(stack.deps.db, run.id, 'a');
    let marked: Promise<boolean> | null = null;
    let returned = false;
    let returnedWhileHeld = true;
    await stack.deps.db.transaction(async (tx) => {
      await lockExecutionRow(tx, run.id);
      marked = markStepWaiting(stack.deps.db, run.id, 'a', new Date(Date.now() + 60_000));
      void marked.then(() => (returned = true));
      await Bun.sleep(150);
      returnedWhileHeld = returned;
    });
    expect(returnedWhileHeld).toBe(false);
    expect(await marked!).toBe(true);
    const [stepA] = (await findSteps(stack.deps.db, run.id)).filter((s) => s.taskId === 'a');
    expect(stepA!.status).toBe('waiting');
    expect(stepA!.wakeAt).toBeInstanceOf(Date);
    // A step no longer running is not marked.
    expect(await markStepWaiting(stack.deps.db, run.id, 'b', new Date())).toBe(false);
  });
});
