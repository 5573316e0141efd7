import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { startCountingSink, type CountingSink } from '../support/counting-sink.ts';
import { eventually, startTestStack, type TestStack } from '../support/test-stack.ts';

/** Issue 11: approvals, cancel, pause/resume, signals and waits, rerun — over tRPC, REST and the worker. */

let stack: TestStack;
let sink: CountingSink;
// A receiver that fails the first call to each /flaky/* path, then succeeds: a step that fails once, for reruns.
let flaky: ReturnType<typeof Bun.serve>;
const flakyCalls: string[] = [];
const graceMs = 1500;

beforeAll(async () => {
  sink = startCountingSink();
  flaky = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    fetch(req) {
      const path = new URL(req.url).pathname;
      flakyCalls.push(path);
      const first = flakyCalls.filter((p) => p === path).length === 1;
      return path.startsWith('/flaky/') && first ? new Response('boom', { status: 500 }) : Response.json({ ok: true, path });
    },
  });
  stack = await startTestStack({ MC_HTTP_ALLOWED_HOSTS: `${sink.host},127.0.0.1:${flaky.port}`, MC_CANCEL_GRACE_MS: String(graceMs), MC_CONTROL_POLL_MS: '300' });
});
afterAll(async () => {
  await stack.close();
  await sink.stop();
  await flaky.stop(true);
});

async function publish(manifest: unknown): Promise<string> {
  const wf = await stack.trpc.workflows.create.mutate(manifest);
  await stack.trpc.workflows.publish.mutate({ id: wf.id });
  return wf.id;
}

const stepOf = async (id: string, taskId: string) => (await stack.trpc.executions.get.query({ id })).steps.find((s) => s.taskId === taskId)!;
const waitForStep = (id: string, taskId: string, status: string) =>
  eventually(async () => (await stepOf(id, taskId)).status === status || null, { what: `${taskId} to be ${status}` });
const predicateOf = (receipt: { receipt: unknown }) => (receipt.receipt as { predicate: Record<string, any> }).predicate;

describe('pkg:mc/approval', () => {
  const manifest = (name: string) => ({
    name,
    version: '1.0.0',
    tasks: [
      { id: 'approve', uses: 'pkg:mc/approval@1.0.0', with: { approvers: 2, role: 'operator', timeoutMs: 60_000 } },
      { id: 'ship', uses: 'pkg:demo/echo@1.0.0', needs: ['approve'], with: { shipped: true } },
    ],
  });

  it('refuses the requester, continues after two other approvers, and puts the approvals in the receipt', async () => {
    const wfId = await publish(manifest('needs-two'));
    const requester = stack.trpcAs(await stack.tokenFor('operator'));
    const exec = await requester.executions.start.mutate({ workflowId: wfId });
    await waitForStep(exec.id, 'approve', 'waiting');

    await expect(requester.executions.approve.mutate({ id: exec.id })).rejects.toThrow(/requester/);
    // A viewer is not an approver of an operator step.
    await expect(stack.trpcAs(await stack.tokenFor('viewer')).executions.approve.mutate({ id: exec.id })).rejects.toThrow(/role operator/);

    const first = await stack.trpcAs(await stack.tokenFor('operator')).executions.approve.mutate({ id: exec.id, comment: 'looks right' });
    expect(first).toMatchObject({ approvals: 1, required: 2, status: 'running' });
    await Bun.sleep(300);
    expect((await stepOf(exec.id, 'approve')).status).toBe('waiting');

    // The second approval over REST, as the CLI and scripts send it.
    const op2 = await stack.tokenFor('operator');
    const second = await stack.rest('POST', `/api/executions/${exec.id}/approve`, {}, { authorization: `Bearer ${op2}` });
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({ approvals: 2, required: 2 });

    const receipt = await stack.trpc.receipts.get.query({ executionId: exec.id });
    const done = await stack.trpc.executions.get.query({ id: exec.id });
    expect(done.status).toBe('succeeded');
    expect(done.steps.map((s) => s.status)).toEqual(['succeeded', 'succeeded']);
    expect(done.approvals).toHaveLength(2);
    const approvals = predicateOf(receipt).approvals as { decision: string; actor: { role: string } }[];
    expect(approvals.map((a) => a.decision)).toEqual(['approve', 'approve']);
    expect(approvals.every((a) => a.actor.role === 'operator')).toBe(true);
    expect(receipt.verified).toBe(true);
  });

  it('ends the run rejected, with a receipt, on one rejection', async () => {
    const wfId = await publish(manifest('rejectable'));
    const exec = await stack.trpcAs(await stack.tokenFor('operator')).executions.start.mutate({ workflowId: wfId });
    await waitForStep(exec.id, 'approve', 'waiting');
    await stack.trpcAs(await stack.tokenFor('operator')).executions.approve.mutate({ id: exec.id });
    const rejected = await stack.trpcAs(await stack.tokenFor('operator')).executions.reject.mutate({ id: exec.id, comment: 'not today' });
    // Ended, but rejected only once its receipt is stored.
    expect({ status: rejected.status, outcome: rejected.outcome }).toEqual({ status: 'receipt_pending', outcome: 'rejected' });

    const receipt = await stack.trpc.receipts.get.query({ executionId: exec.id });
    expect((await stack.trpc.executions.get.query({ id: exec.id })).status).toBe('rejected');
    const predicate = predicateOf(receipt);
    expect(predicate.execution.status).toBe('rejected');
    expect(predicate.approvals.map((a: { decision: string }) => a.decision).sort()).toEqual(['approve', 'reject']);
    const steps = Object.fromEntries((predicate.steps as { taskId: string; status: string }[]).map((s) => [s.taskId, s.status]));
    expect(steps).toEqual({ approve: 'failed', ship: 'cancelled' });
    const history = await stack.trpc.executions.transitions.query({ id: exec.id });
    expect(history.map((h) => h.type)).toContain('mc.execution.rejected');
    // Every transition is an audit event as well (mc.events.v2), so it is in the hash chain.
    const trail = (await stack.trpc.audit.list.query({ executionId: exec.id, limit: 500 })).items.map((e) => e.type);
    for (const t of history.map((h) => h.type)) expect(trail).toContain(t);
    expect((await stack.trpc.audit.verify.mutate()).ok).toBe(true);
    // Nothing more can be decided on a finished run.
    await expect(stack.trpcAs(await stack.tokenFor('operator')).executions.approve.mutate({ id: exec.id })).rejects.toThrow(/rejected/);
  });
});

describe('executions.cancel', () => {
  it('stops a running task and ends the execution cancelled, with a receipt, within the grace period', async () => {
    const wfId = await publish({
      name: 'cancellable',
      version: '1.0.0',
      tasks: [
        { id: 'slow', uses: 'pkg:mc/http@1.0.0', with: { url: `${sink.url}/slow`, method: 'POST' }, timeoutMs: 60_000 },
        { id: 'after', uses: 'pkg:demo/echo@1.0.0', needs: ['slow'] },
      ],
    });
    sink.delayMs = 20_000;
    const exec = await stack.trpc.executions.start.mutate({ workflowId: wfId });
    await eventually(async () => sink.calls.some((c) => c.path === '/slow') || null, { what: 'the slow call' });
    const cancelledAt = Date.now();
    const cancelled = await stack.trpc.executions.cancel.mutate({ id: exec.id, reason: 'wrong target' });
    // Ended with outcome cancelled; `cancelled` itself only once the receipt is stored, which waits
    // for the stopping task (so it is normally still receipt_pending here, but the worker may be quick).
    expect(cancelled.outcome ?? cancelled.status).toBe('cancelled');
    expect(['receipt_pending', 'cancelled']).toContain(cancelled.status);

    const receipt = await stack.trpc.receipts.get.query({ executionId: exec.id, waitMs: 20_000 });
    expect((await stack.trpc.executions.get.query({ id: exec.id })).status).toBe('cancelled');
    const tookMs = Date.now() - cancelledAt;
    sink.delayMs = 0;
    expect(tookMs).toBeLessThan(graceMs + 2_000);
    const predicate = predicateOf(receipt);
    expect(predicate.execution.status).toBe('cancelled');
    const steps = Object.fromEntries((predicate.steps as { taskId: string; status: string }[]).map((s) => [s.taskId, s.status]));
    expect(steps).toEqual({ slow: 'cancelled', after: 'cancelled' });
    expect(receipt.verified).toBe(true);
    await expect(stack.trpc.executions.cancel.mutate({ id: exec.id })).rejects.toThrow(/cancelled/);
  }, 30_000);
});

describe('executions.pause and resume', () => {
  it('holds new tasks while paused (running ones finish) and releases them on resume', async () => {
    const wfId = await publish({
      name: 'pausable',
      version: '1.0.0',
      tasks: [
        { id: 'a', uses: 'pkg:mc/http@1.0.0', with: { url: `${sink.url}/pause-a`, method: 'POST' } },
        { id: 'b', uses: 'pkg:demo/echo@1.0.0', needs: ['a'] },
        { id: 'c', uses: 'pkg:demo/echo@1.0.0', needs: ['b'] },
      ],
    });
    sink.delayMs = 600;
    const exec = await stack.trpc.executions.start.mutate({ workflowId: wfId });
    await eventually(async () => sink.calls.some((c) => c.path === '/pause-a') || null, { what: 'a to start' });
    const paused = await stack.rest('POST', `/api/executions/${exec.id}/pause`, { reason: 'maintenance' });
    expect(paused.status).toBe(200);
    expect(paused.body.status).toBe('paused');

    await waitForStep(exec.id, 'a', 'succeeded');
    sink.delayMs = 0;
    await Bun.sleep(1_000);
    const held = await stack.trpc.executions.get.query({ id: exec.id });
    expect(held.status).toBe('paused');
    expect(held.steps.find((s) => s.taskId === 'b')!.status).toBe('queued');
    expect(held.steps.find((s) => s.taskId === 'c')!.status).toBe('pending');

    const resumed = await stack.trpc.executions.resume.mutate({ id: exec.id });
    expect(resumed.status).toBe('running');
    await stack.trpc.receipts.get.query({ executionId: exec.id });
    const done = await stack.trpc.executions.get.query({ id: exec.id });
    expect(done.status).toBe('succeeded');
    expect(done.steps.find((s) => s.taskId === 'b')!.startedAt!.getTime()).toBeGreaterThan(held.pausedAt!.getTime() + 900);
    const history = (await stack.trpc.executions.transitions.query({ id: exec.id })).map((h) => `${h.type}:${h.to ?? ''}`);
    expect(history).toEqual(['mc.execution.paused:paused', 'mc.execution.resumed:running', 'mc.execution.finished:receipt_pending', 'mc.execution.receipt.signed:succeeded']);
  });
});

describe('pkg:mc/wait-for-event and executions.signal', () => {
  it('resumes on the event with the matching key and passes its payload on', async () => {
    const wfId = await publish({
      name: 'waits',
      version: '1.0.0',
      tasks: [
        { id: 'paid', uses: 'pkg:mc/wait-for-event@1.0.0', with: { event: 'payment', key: '${{ inputs.order }}', timeoutMs: 60_000 } },
        { id: 'ship', uses: 'pkg:demo/echo@1.0.0', needs: ['paid'], with: { amount: '${{ tasks.paid.output.payload.amount }}' } },
      ],
    });
    const exec = await stack.trpc.executions.start.mutate({ workflowId: wfId, inputs: { order: 'o-17' } });
    await waitForStep(exec.id, 'paid', 'waiting');
    await stack.trpc.executions.signal.mutate({ id: exec.id, event: 'payment', key: 'o-99', payload: { amount: 1 } });
    await Bun.sleep(300);
    expect((await stepOf(exec.id, 'paid')).status).toBe('waiting');

    const sent = await stack.rest('POST', `/api/executions/${exec.id}/signal`, { event: 'payment', key: 'o-17', payload: { amount: 42 } });
    expect(sent.status).toBe(200);
    await stack.trpc.receipts.get.query({ executionId: exec.id });
    const done = await stack.trpc.executions.get.query({ id: exec.id });
    expect(done.status).toBe('succeeded');
    const { taskResults } = await import('@mc/server/db/schema');
    const { eq } = await import('drizzle-orm');
    const { openTaskResult } = await import('@mc/server/payloads/payload-boundary');
    const ship = done.steps.find((s) => s.taskId === 'ship')!;
    const [raw] = await stack.deps.db.select().from(taskResults).where(eq(taskResults.outputDigest, ship.outputDigest!));
    expect((await openTaskResult(stack.deps.db, raw!)).output).toEqual({ amount: 42 });
  });

  it('fails the step when no event comes within timeoutMs', async () => {
    const wfId = await publish({ name: 'times-out', version: '1.0.0', tasks: [{ id: 'w', uses: 'pkg:mc/wait-for-event@1.0.0', with: { event: 'never', timeoutMs: 400 } }] });
    const exec = await stack.trpc.executions.start.mutate({ workflowId: wfId });
    await stack.trpc.receipts.get.query({ executionId: exec.id });
    const done = await stack.trpc.executions.get.query({ id: exec.id });
    expect(done.status).toBe('failed');
    expect(done.steps[0]!.error).toContain('no event "never"');
  });
});

describe('executions.rerun', () => {
  it('runs only the failed step and what is downstream of it, reusing the stored results of the rest', async () => {
    const base = `http://127.0.0.1:${flaky.port}`;
    const call = (id: string, path: string, needs: string[] = []) => ({ id, uses: 'pkg:mc/http@1.0.0', needs, with: { url: `${base}${path}`, method: 'POST' } });
    const wfId = await publish({
      name: 'rerunnable',
      version: '1.0.0',
      tasks: [call('a', '/ok/a'), call('b', '/flaky/b', ['a']), call('c', '/ok/c', ['b']), call('d', '/ok/d'), { id: 'e', uses: 'pkg:demo/echo@1.0.0', needs: ['a'], with: { from: '${{ tasks.a.output.status }}' } }],
    });
    const first = await stack.trpc.executions.start.mutate({ workflowId: wfId });
    await stack.trpc.receipts.get.query({ executionId: first.id });
    const failed = await stack.trpc.executions.get.query({ id: first.id });
    expect(failed.status).toBe('failed');
    expect(Object.fromEntries(failed.steps.map((s) => [s.taskId, s.status]))).toEqual({ a: 'succeeded', b: 'failed', c: 'skipped', d: 'succeeded', e: 'succeeded' });

    const rerun = await stack.trpc.executions.rerun.mutate({ id: first.id });
    expect(rerun.rerunOf).toBe(first.id);
    const receipt = await stack.trpc.receipts.get.query({ executionId: rerun.id });
    const done = await stack.trpc.executions.get.query({ id: rerun.id });
    expect(done.status).toBe('succeeded');
    const byId = Object.fromEntries(done.steps.map((s) => [s.taskId, s]));
    // Reused: not attempted again, same result as the original's.
    for (const id of ['a', 'd', 'e']) {
      expect(byId[id]!.attempts).toBe(0);
      expect(byId[id]!.outputDigest).toBe(failed.steps.find((s) => s.taskId === id)!.outputDigest);
    }
    expect(byId.b!.attempts).toBe(1);
    expect(byId.c!.attempts).toBe(1);
    expect(flakyCalls.filter((p) => p === '/ok/a')).toHaveLength(1);
    expect(flakyCalls.filter((p) => p === '/ok/d')).toHaveLength(1);
    expect(flakyCalls.filter((p) => p === '/flaky/b')).toHaveLength(2);
    expect(flakyCalls.filter((p) => p === '/ok/c')).toHaveLength(1);
    expect(predicateOf(receipt).execution.rerunOf).toBe(first.id);
    // Only a failed, cancelled or rejected run can be rerun.
    await expect(stack.trpc.executions.rerun.mutate({ id: rerun.id })).rejects.toThrow(/succeeded/);
  });
});
