import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { sql } from 'drizzle-orm';
import { receiptObjectKey } from '@mc/server/receipts/receipt-issuer';
import { receiptBucket } from '@mc/server/storage/object-store';
import { expectAcceptedAllSettled } from '../support/invariants.ts';
import { startS3FaultProxy, type S3FaultProxy } from '../support/s3-fault-proxy.ts';
import { s3rverCredentials, startS3rver } from '../support/s3-server.ts';
import { eventually, startTestStack, type TestStack } from '../support/test-stack.ts';

/**
 * Object-store write failures, injected on the wire (issue text): "the receipt is retried; the
 * execution shows `receipt_pending` meanwhile; never `succeeded` without a stored receipt". The
 * S3 store talks HTTP to s3rver through a loopback proxy that refuses object writes on demand.
 */

// Few, short receipt attempts, so a job runs out of them within the test and the sweeper (every
// 500 ms in the test stack) must enqueue it again: that path is exercised too.
const receiptAttempts = 2;
// The S3 client's own attempts per call (S3ObjectStore's default maxAttempts).
const sdkAttempts = 3;
/** More PUTs of one receipt than a single receipt job can make: the job was retried and re-enqueued. */
const beyondOneJob = receiptAttempts * sdkAttempts;

let s3: Awaited<ReturnType<typeof startS3rver>>;
let proxy: S3FaultProxy;
let stack: TestStack;
let echoWorkflow: string;
let mixedWorkflows: { wait: string; fail: string };
beforeAll(async () => {
  s3 = await startS3rver();
  proxy = await startS3FaultProxy(s3.endpoint);
  stack = await startTestStack(
    { S3_ENDPOINT: proxy.endpoint, ...s3rverCredentials, MC_RECEIPT_ATTEMPTS: String(receiptAttempts), MC_RECEIPT_RETRY_BACKOFF_MS: '200', MC_CANCEL_GRACE_MS: '1000' },
    { worker: true },
  );
  const publish = async (name: string, tasks: { id: string; uses: string; needs?: string[]; with?: Record<string, unknown> }[]) => {
    const wf = await stack.trpc.workflows.create.mutate({ name, version: '1.0.0', tasks });
    await stack.trpc.workflows.publish.mutate({ id: wf.id });
    return wf.id;
  };
  echoWorkflow = await publish('store-outage', [
    { id: 'first', uses: 'pkg:demo/echo@1.0.0', with: { message: 'one' } },
    { id: 'second', uses: 'pkg:demo/echo@1.0.0', needs: ['first'], with: { message: 'two' } },
  ]);
  mixedWorkflows = {
    wait: await publish('store-outage-wait', [{ id: 'w', uses: 'pkg:mc/wait-for-event@1.0.0', with: { event: 'never', timeoutMs: 60_000 } }]),
    fail: await publish('store-outage-fail', [{ id: 'boom', uses: 'pkg:mc/fail@1.0.0' }]),
  };
});
afterAll(async () => {
  proxy?.heal();
  await stack?.close();
  await proxy?.stop();
  await s3?.stop();
});

interface Observed {
  id: string;
  status: string;
  outcome: string | null;
  receipted: boolean;
}

/** Status, outcome and whether a receipt row exists, read in one statement (one snapshot). */
async function observe(ids: readonly string[]): Promise<Observed[]> {
  if (ids.length === 0) return [];
  const list = sql.join(ids.map((id) => sql`${id}::uuid`), sql`, `);
  const rows = await stack.deps.db.execute(sql`
    select e.id, e.status, e.outcome, r.execution_id is not null as receipted
    from executions e left join receipts r on r.execution_id = e.id
    where e.id in (${list})`);
  return rows as unknown as Observed[];
}

/**
 * Samples every execution of the stack's database while the test runs: any row ever seen with a
 * terminal status and no receipt row breaks the invariant.
 */
function watchTerminalWithoutReceipt(): { stop(): Promise<{ samples: number; violations: string[] }> } {
  let running = true;
  let samples = 0;
  const violations: string[] = [];
  const loop = (async () => {
    while (running) {
      const rows = (await stack.deps.db.execute(sql`
        select e.id, e.status from executions e left join receipts r on r.execution_id = e.id
        where e.status in ('succeeded','failed','cancelled','rejected','rolled_back') and r.execution_id is null`)) as unknown as { id: string; status: string }[];
      samples++;
      for (const r of rows) violations.push(`${r.id} ${r.status} without a receipt`);
      await Bun.sleep(50);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { samples, violations };
    },
  };
}

const receiptPath = (id: string) => `${receiptBucket('us')}/${receiptObjectKey(id)}`;

describe('object-store writes failing (503 from the store)', () => {
  it('keeps finished executions receipt_pending while the receipt job is retried, then stores every receipt', async () => {
    const watch = watchTerminalWithoutReceipt();
    proxy.fail('503');
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await stack.trpc.executions.start.mutate({ workflowId: echoWorkflow })).id);

    // Every step ran; the executions finished, but none can be terminal: the receipt cannot be stored.
    await eventually(async () => (await observe(ids)).every((o) => o.status === 'receipt_pending') || null, { what: 'all four to finish their steps', timeoutMs: 30_000 });
    // The receipt job keeps trying: past what one job's attempts can make, i.e. retried and then
    // enqueued again by the sweeper after it ran out of attempts.
    await eventually(async () => ids.every((id) => proxy.putAttempts(receiptPath(id)) > beyondOneJob) || null, {
      what: `more than ${beyondOneJob} receipt writes per execution`,
      timeoutMs: 30_000,
    });
    for (const o of await observe(ids)) expect(o).toEqual({ id: o.id, status: 'receipt_pending', outcome: 'succeeded', receipted: false });
    const shown = await stack.trpc.executions.get.query({ id: ids[0]! });
    expect({ status: shown.status, outcome: shown.outcome, receipt: shown.receipt }).toEqual({ status: 'receipt_pending', outcome: 'succeeded', receipt: null });
    expect(shown.steps.map((s) => s.status)).toEqual(['succeeded', 'succeeded']);
    // Nothing reached the store while it refused writes.
    expect(await stack.deps.objectStore.getObject(receiptBucket('us'), receiptObjectKey(ids[0]!))).toBeNull();
    // Operators see the backlog.
    const during = await stack.rest('GET', '/metrics');
    expect(metricValue(during.body, 'mc_receipts_pending')).toBeGreaterThanOrEqual(ids.length);
    expect(metricValue(during.body, 'mc_receipts_pending_oldest_age_seconds')).toBeGreaterThan(0);

    proxy.heal();
    const report = await expectAcceptedAllSettled(stack.deps, ids, { timeoutMs: 40_000 });
    expect(report).toEqual({ accepted: ids.length, terminal: ids.length, receipted: ids.length, byStatus: { succeeded: ids.length } });
    for (const id of ids) {
      const verification = await stack.trpc.receipts.verify.mutate({ executionId: id });
      expect({ id, verified: verification.verified }).toEqual({ id, verified: true });
      const receipt = await stack.trpc.receipts.get.query({ executionId: id });
      // The receipt states the outcome, not the interim status.
      expect((receipt.receipt as { predicate: { execution: { status: string } } }).predicate.execution.status).toBe('succeeded');
    }
    const done = await stack.trpc.executions.get.query({ id: ids[0]! });
    expect({ status: done.status, outcome: done.outcome }).toEqual({ status: 'succeeded', outcome: null });
    // The history shows both moves: finished (to receipt_pending, with its outcome), then the stored receipt.
    const history = await stack.trpc.executions.transitions.query({ id: ids[0]! });
    expect(history.map((h) => ({ type: h.type, from: h.from, to: h.to }))).toEqual([
      { type: 'mc.execution.finished', from: 'running', to: 'receipt_pending' },
      { type: 'mc.execution.receipt.signed', from: 'receipt_pending', to: 'succeeded' },
    ]);
    expect(history[0]!.data).toMatchObject({ outcome: 'succeeded' });

    expect(metricValue((await stack.rest('GET', '/metrics')).body, 'mc_receipts_pending')).toBe(0);

    const { samples, violations } = await watch.stop();
    expect(samples).toBeGreaterThan(0);
    expect(violations).toEqual([]);
  }, 100_000);
});

/** A label-less sample's value in a Prometheus text exposition. */
function metricValue(exposition: string, name: string): number {
  const line = exposition.split('\n').find((l) => l.startsWith(`${name} `));
  if (!line) throw new Error(`${name} is not in /metrics`);
  return Number(line.slice(name.length + 1));
}

describe('object-store connections reset on every write', () => {
  it('never shows an execution terminal without a receipt, whatever its outcome, and refuses control actions meanwhile', async () => {
    const watch = watchTerminalWithoutReceipt();
    proxy.fail('reset');
    const ok = (await stack.trpc.executions.start.mutate({ workflowId: echoWorkflow })).id;
    const failing = (await stack.trpc.executions.start.mutate({ workflowId: mixedWorkflows.fail })).id;
    const waiting = (await stack.trpc.executions.start.mutate({ workflowId: mixedWorkflows.wait })).id;
    const ids = [ok, failing, waiting];
    await eventually(async () => (await stack.trpc.executions.get.query({ id: waiting })).steps[0]!.status === 'waiting' || null, { what: 'the wait to begin' });
    const cancelled = await stack.trpc.executions.cancel.mutate({ id: waiting, reason: 'store outage drill' });
    // Cancelled, but not terminal until its receipt is stored.
    expect({ status: cancelled.status, outcome: cancelled.outcome }).toEqual({ status: 'receipt_pending', outcome: 'cancelled' });

    await eventually(
      async () => {
        const seen = await observe(ids);
        return seen.length === 3 && seen.every((o) => o.status === 'receipt_pending') ? seen : null;
      },
      { what: 'all three to finish', timeoutMs: 30_000 },
    );
    const outcomes = Object.fromEntries((await observe(ids)).map((o) => [o.id, o.outcome]));
    expect(outcomes).toEqual({ [ok]: 'succeeded', [failing]: 'failed', [waiting]: 'cancelled' });
    await eventually(async () => ids.every((id) => proxy.putAttempts(receiptPath(id)) > 1) || null, { what: 'receipt writes to be retried', timeoutMs: 30_000 });

    // Finished: control actions are refused, naming why; rerun and erase wait for the receipt.
    await expect(stack.trpc.executions.cancel.mutate({ id: waiting })).rejects.toThrow(/has finished \(cancelled\) and its receipt is being stored/);
    await expect(stack.trpc.executions.pause.mutate({ id: ok })).rejects.toThrow(/has finished \(succeeded\) and its receipt is being stored/);
    await expect(stack.trpc.executions.signal.mutate({ id: waiting, event: 'never' })).rejects.toThrow(/its receipt is being stored/);
    await expect(stack.trpc.executions.rerun.mutate({ id: failing })).rejects.toThrow(/rerun it once the receipt is stored/);
    await expect(stack.trpc.executions.rerun.mutate({ id: ok })).rejects.toThrow(/it finished succeeded/);
    await expect(stack.trpc.executions.erase.mutate({ id: failing })).rejects.toThrow(/erase it once the receipt is stored/);
    // The list filters on the interim status.
    const listed = await stack.trpc.executions.list.query({ status: 'receipt_pending', limit: 200 });
    for (const id of ids) expect(listed.items.map((e) => e.id)).toContain(id);

    proxy.heal();
    const report = await expectAcceptedAllSettled(stack.deps, ids, { timeoutMs: 40_000 });
    expect(report.byStatus).toEqual({ succeeded: 1, failed: 1, cancelled: 1 });
    expect(report.receipted).toBe(3);
    for (const id of ids) expect((await stack.trpc.receipts.verify.mutate({ executionId: id })).verified).toBe(true);
    // With the receipt stored, the failed run can be rerun.
    const rerun = await stack.trpc.executions.rerun.mutate({ id: failing });
    expect(rerun.rerunOf).toBe(failing);

    const { violations } = await watch.stop();
    expect(violations).toEqual([]);
  }, 100_000);
});
