import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { eq, sql } from 'drizzle-orm';
import { digestOf } from '@mc/shared/canonical-json';
import { executions } from '@mc/server/db/schema';
import { findExecutionsMissingReceipts, finishExecution } from '@mc/server/executions/repository';
import { issueReceipt, issueReceipts, receiptObjectKey } from '@mc/server/receipts/receipt-issuer';
import { receiptBucket } from '@mc/server/storage/object-store';
import { startTestStack, type TestStack } from '../support/test-stack.ts';

/**
 * The receipt issuer's side of "never terminal without a stored receipt", driven directly (no
 * worker runs here): receipt_pending → outcome with the receipt row, repair, legacy rows.
 */

let stack: TestStack;
let workflowId: string;
beforeAll(async () => {
  stack = await startTestStack({}, { worker: false });
  const wf = await stack.trpc.workflows.create.mutate({ name: 'receipted', version: '1.0.0', tasks: [{ id: 'only', uses: 'pkg:demo/echo@1.0.0' }] });
  await stack.trpc.workflows.publish.mutate({ id: wf.id });
  workflowId = wf.id;
});
afterAll(async () => {
  await stack.close();
});

const start = async () => (await stack.trpc.executions.start.mutate({ workflowId })).id;
const statusOf = async (id: string) => {
  const [row] = await stack.deps.db.select({ status: executions.status, outcome: executions.outcome }).from(executions).where(eq(executions.id, id));
  return row!;
};
const transitionsOf = async (id: string) => (await stack.trpc.executions.transitions.query({ id })).map((t) => ({ type: t.type, from: t.from, to: t.to, data: t.data }));
/** Finishes it as the engine does when its last step ends: receipt_pending, outcome kept. */
const finish = (id: string) => stack.deps.db.transaction((tx) => finishExecution(tx, id));

describe('the receipt issuer', () => {
  it('refuses an execution that can still move', async () => {
    const id = await start();
    expect(await issueReceipt(stack.deps, id)).toBe('not-terminal');
    expect((await statusOf(id)).status).toBe('pending');
  });

  it('stores the receipt and moves receipt_pending to its outcome in one step, recorded in the history', async () => {
    const id = await start();
    const finished = await finish(id);
    expect({ status: finished.status, outcome: finished.outcome }).toEqual({ status: 'receipt_pending', outcome: 'succeeded' });
    expect(await findExecutionsMissingReceipts(stack.deps.db, 0, 1000)).toContain(id);

    expect(await issueReceipt(stack.deps, id)).toBe('issued');
    expect(await statusOf(id)).toEqual({ status: 'succeeded', outcome: null });
    const receipt = await stack.trpc.receipts.get.query({ executionId: id, waitMs: 0 });
    expect((receipt.receipt as { predicate: { execution: { status: string } } }).predicate.execution.status).toBe('succeeded');
    const last = (await transitionsOf(id)).at(-1)!;
    expect(last).toEqual({ type: 'mc.execution.receipt.signed', from: 'receipt_pending', to: 'succeeded', data: { digest: receipt.digest } });
    expect(await findExecutionsMissingReceipts(stack.deps.db, 0, 1000)).not.toContain(id);
    // Run again (a duplicate job): nothing more happens.
    expect(await issueReceipt(stack.deps, id)).toBe('exists');
    expect((await transitionsOf(id)).filter((t) => t.type === 'mc.execution.receipt.signed')).toHaveLength(1);
  });

  it('repairs an execution left receipt_pending beside its stored receipt, once', async () => {
    const id = await start();
    await finish(id);
    expect(await issueReceipt(stack.deps, id)).toBe('issued');
    // As if the process had died between storing the receipt row and moving the status.
    await stack.deps.db.update(executions).set({ status: 'receipt_pending', outcome: 'succeeded' }).where(eq(executions.id, id));
    expect(await findExecutionsMissingReceipts(stack.deps.db, 0, 1000)).toContain(id);

    expect(await issueReceipt(stack.deps, id)).toBe('exists');
    expect(await statusOf(id)).toEqual({ status: 'succeeded', outcome: null });
    const signed = (await transitionsOf(id)).filter((t) => t.type === 'mc.execution.receipt.signed');
    expect(signed).toHaveLength(2);
    expect(signed[1]).toMatchObject({ from: 'receipt_pending', to: 'succeeded', data: { repaired: expect.any(String) } });
    expect(await issueReceipt(stack.deps, id)).toBe('exists');
    expect((await transitionsOf(id)).filter((t) => t.type === 'mc.execution.receipt.signed')).toHaveLength(2);
  });

  it('still receipts a row that went terminal without one before receipt_pending existed, keeping its status', async () => {
    const id = await start();
    await stack.deps.db.execute(sql`
      update executions set status = 'failed', error = 'legacy', outputs_digest = ${digestOf({})}, finished_at = now() - interval '5 seconds' where id = ${id}`);
    expect(await findExecutionsMissingReceipts(stack.deps.db, 1_000, 1000)).toContain(id);

    expect(await issueReceipt(stack.deps, id)).toBe('issued');
    expect(await statusOf(id)).toEqual({ status: 'failed', outcome: null });
    const receipt = await stack.trpc.receipts.get.query({ executionId: id, waitMs: 0 });
    expect((receipt.receipt as { predicate: { execution: { status: string } } }).predicate.execution.status).toBe('failed');
    expect(await findExecutionsMissingReceipts(stack.deps.db, 0, 1000)).not.toContain(id);
    // Its status did not move, so there is no receipt transition to record.
    expect((await transitionsOf(id)).filter((t) => t.type === 'mc.execution.receipt.signed')).toEqual([]);
  });
});

describe('issuing several receipts together', () => {
  const auditOf = async (id: string) =>
    (await stack.deps.db.execute(sql`select type from audit_events where execution_id = ${id} and type = 'mc.execution.receipt.signed'`)) as unknown as { type: string }[];

  it('records them in one go, each receipt as it would be alone, and settles each request on its own', async () => {
    const fresh = [await start(), await start(), await start()];
    const finishedRows = await Promise.all(fresh.map(finish));
    const running = await start();
    const done = await start();
    await finish(done);
    expect(await issueReceipt(stack.deps, done)).toBe('issued');
    const unknown = '00000000-0000-4000-8000-000000000000';

    const results = await issueReceipts(stack.deps, [
      { executionId: fresh[0]!, finished: finishedRows[0]! },
      { executionId: running },
      { executionId: fresh[1]! },
      { executionId: done },
      { executionId: unknown },
      { executionId: fresh[2]!, finished: finishedRows[2]! },
    ]);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : `rejected: ${String(r.reason)}`))).toEqual(['issued', 'not-terminal', 'issued', 'exists', 'not-found', 'issued']);
    for (const id of fresh) {
      expect(await statusOf(id)).toEqual({ status: 'succeeded', outcome: null });
      const receipt = await stack.trpc.receipts.get.query({ executionId: id, waitMs: 0 });
      const predicate = (receipt.receipt as { predicate: { execution: { id: string; status: string }; steps: unknown[] } }).predicate;
      expect(predicate.execution).toMatchObject({ id, status: 'succeeded' });
      expect(predicate.steps).toHaveLength(1);
      expect((await transitionsOf(id)).filter((t) => t.type === 'mc.execution.receipt.signed')).toEqual([
        { type: 'mc.execution.receipt.signed', from: 'receipt_pending', to: 'succeeded', data: { digest: receipt.digest } },
      ]);
      expect(await auditOf(id)).toHaveLength(1);
    }
    expect((await statusOf(running)).status).toBe('pending');
    expect(await auditOf(done)).toHaveLength(1);
  });

  it('fails only the request whose receipt cannot be stored; the others are issued', async () => {
    const ids = [await start(), await start(), await start()];
    await Promise.all(ids.map(finish));
    // A directory where the second receipt's object goes: the store cannot write it, nor read it as a receipt.
    const [row] = await stack.deps.db.select({ region: executions.region }).from(executions).where(eq(executions.id, ids[1]!));
    mkdirSync(fileURLToPath(stack.deps.objectStore.uriOf(receiptBucket(row!.region), receiptObjectKey(ids[1]!))), { recursive: true });

    const results = await issueReceipts(
      stack.deps,
      ids.map((executionId) => ({ executionId })),
    );
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(await statusOf(ids[0]!)).toEqual({ status: 'succeeded', outcome: null });
    expect(await statusOf(ids[2]!)).toEqual({ status: 'succeeded', outcome: null });
    // Never terminal without its receipt: it stays receipt_pending, for the receipt job and the sweeper.
    expect(await statusOf(ids[1]!)).toEqual({ status: 'receipt_pending', outcome: 'succeeded' });
    expect(await auditOf(ids[1]!)).toEqual([]);
    expect(await findExecutionsMissingReceipts(stack.deps.db, 0, 1000)).toContain(ids[1]!);
  });
});
