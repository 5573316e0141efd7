import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { asc, eq } from 'drizzle-orm';
import { executions } from '@mc/server/db/schema';
import { fireSchedule } from '@mc/server/schedules/service';
import { fireTimesBetween, nextFireAfter } from '@mc/shared/schedules';
import { eventually, startTestStack, type TestStack } from '../support/test-stack.ts';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ MC_SCHEDULE_MISFIRE_MS: '60000' });
});
afterAll(async () => {
  await stack.close();
});

async function publish(name: string): Promise<string> {
  const wf = await stack.trpc.workflows.create.mutate({ name, version: '1.0.0', tasks: [{ id: 'run', uses: 'pkg:demo/echo@1.0.0', with: { what: '${{ inputs.what }}' } }] });
  await stack.trpc.workflows.publish.mutate({ id: wf.id });
  return wf.id;
}

const runsOf = (scheduleId: string) => stack.deps.db.select().from(executions).where(eq(executions.scheduleId, scheduleId)).orderBy(asc(executions.createdAt));

describe('cron schedules, with a fake clock', () => {
  it('fire the right runs across both DST changes of America/New_York; a paused schedule does not fire', async () => {
    const wfId = await publish('nightly');
    const operator = stack.trpcAs(await stack.tokenFor('operator'));
    const me = await operator.auth.me.query();
    const spec = { workflowId: wfId, cron: '30 2 * * *', timezone: 'America/New_York', inputs: { what: 'nightly' } };
    const active = await operator.schedules.create.mutate({ ...spec, name: 'nightly-a' });
    const paused = await operator.schedules.create.mutate({ ...spec, name: 'nightly-b' });
    const pausedOverRest = await stack.rest('POST', `/api/schedules/${paused.id}/pause`);
    expect(pausedOverRest.status).toBe(200);
    expect(pausedOverRest.body.status).toBe('paused');

    // BullMQ holds a job scheduler for the active one only, due when MC's pure function says.
    const queue = stack.deps.queues.schedules();
    const installed = await queue.getJobScheduler(active.id);
    expect(installed).toMatchObject({ pattern: '30 2 * * *', tz: 'America/New_York' });
    expect(installed!.next).toBe(nextFireAfter(active, Date.now()));
    expect(await queue.getJobScheduler(paused.id)).toBeFalsy();

    // The fake clock moves over each change; every fire BullMQ would make is delivered to the
    // worker's fire handler — to both schedules, as a stale job of the paused one would be.
    const windows = [
      ['2026-03-06T12:00:00Z', '2026-03-10T12:00:00Z'],
      ['2026-10-30T12:00:00Z', '2026-11-02T12:00:00Z'],
    ] as const;
    const expected: string[] = [];
    for (const [from, to] of windows) {
      for (const t of fireTimesBetween(active, Date.parse(from), Date.parse(to))) {
        expected.push(new Date(t).toISOString());
        expect(await fireSchedule(stack.deps, active.id, t, t + 1_000)).toMatchObject({ outcome: 'started', created: true });
        expect(await fireSchedule(stack.deps, paused.id, t, t + 1_000)).toEqual({ outcome: 'skipped', reason: 'not-active' });
      }
    }
    expect(expected).toEqual([
      '2026-03-07T07:30:00.000Z',
      '2026-03-08T07:30:00.000Z',
      '2026-03-09T06:30:00.000Z',
      '2026-03-10T06:30:00.000Z',
      '2026-10-31T06:30:00.000Z',
      '2026-11-01T07:30:00.000Z',
      '2026-11-02T07:30:00.000Z',
    ]);
    // A fire delivered twice starts one run.
    const again = await fireSchedule(stack.deps, active.id, Date.parse(expected[0]!), Date.parse(expected[0]!) + 1_000);
    expect(again).toMatchObject({ outcome: 'started', created: false });

    const runs = await runsOf(active.id);
    expect(runs.map((r) => r.idempotencyKey)).toEqual(expected.map((t) => `schedule:${active.id}:${t}`));
    expect(await runsOf(paused.id)).toHaveLength(0);
    // Ordinary executions: run as the schedule's creator, each with a signed receipt.
    for (const r of runs) {
      expect(r.actorSub).toBe(me.sub);
      expect(r.actorRole).toBe('operator');
      const receipt = await stack.trpc.receipts.get.query({ executionId: r.id });
      expect(receipt.verified).toBe(true);
    }
    const view = await operator.schedules.get.query({ id: active.id });
    expect(view.lastFiredAt!.toISOString()).toBe(expected[0]!);
  });

  it('applies the missed-run policy to a fire taken up late', async () => {
    const wfId = await publish('missable');
    const skip = await stack.trpc.schedules.create.mutate({ workflowId: wfId, name: 'skipper', everyMs: 60_000, missedRunPolicy: 'skip' });
    const once = await stack.trpc.schedules.create.mutate({ workflowId: wfId, name: 'once', everyMs: 60_000, missedRunPolicy: 'run_once' });
    const due = Date.parse('2026-01-01T00:00:00Z');
    const late = due + 10 * 60_000;
    expect(await fireSchedule(stack.deps, skip.id, due, late)).toEqual({ outcome: 'skipped', reason: 'missed' });
    expect(await fireSchedule(stack.deps, once.id, due, late)).toMatchObject({ outcome: 'started' });
    expect(await fireSchedule(stack.deps, skip.id, due + 60_000, due + 61_000)).toMatchObject({ outcome: 'started' });
  });
});

describe('schedules on BullMQ job schedulers', () => {
  it('fires an interval schedule through the worker, stops when paused, and is gone when deleted', async () => {
    const wfId = await publish('every-second');
    const created = await stack.rest('POST', '/api/schedules', { workflowId: wfId, name: 'tick', everyMs: 1_000, inputs: { what: 'tick' } });
    expect(created.status).toBe(201);
    const id: string = created.body.id;
    await eventually(async () => (await runsOf(id)).length >= 2 || null, { what: 'two scheduled runs', timeoutMs: 15_000 });
    const run = (await runsOf(id))[0]!;
    expect((await stack.trpc.receipts.get.query({ executionId: run.id })).verified).toBe(true);

    await stack.trpc.schedules.pause.mutate({ id });
    await Bun.sleep(300);
    const before = (await runsOf(id)).length;
    await Bun.sleep(2_500);
    expect((await runsOf(id)).length).toBe(before);

    const list = await stack.rest('GET', '/api/schedules?limit=10');
    expect(list.body.items.some((s: { id: string; status: string }) => s.id === id && s.status === 'paused')).toBe(true);
    expect((await stack.rest('DELETE', `/api/schedules/${id}`)).status).toBe(200);
    expect((await stack.rest('GET', `/api/schedules/${id}`)).status).toBe(404);
    expect(await stack.deps.queues.schedules().getJobScheduler(id)).toBeFalsy();
  }, 30_000);
});
