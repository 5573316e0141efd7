import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { sql } from 'drizzle-orm';
import { evaluateErrorBudgets } from '@mc/server/releases/error-budget-service';
import { detectIncidents } from '@mc/server/releases/incident-service';
import { addApiRequestCounts } from '@mc/server/releases/ops-repository';
import { eventually, startTestStack, type TestStack } from '../support/test-stack.ts';

/**
 * The error budget and Sev1 detection over recorded outcomes (docs/ops/ERROR_BUDGET_POLICY.md,
 * INCIDENT_PLAYBOOK.md). Each tenant has its own budget, so each test works in a tenant of its own.
 */
let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ MC_CANARY_MIN_SAMPLES: '5', MC_RELEASE_CONTROLLER_INTERVAL_MS: '0' });
});
afterAll(async () => {
  await stack.close();
});

async function tenantClient(prefix: string) {
  const tenant = `${prefix}-${Date.now().toString(36)}`;
  const client = stack.trpcAs(await stack.tokenFor('admin', tenant));
  const [row] = await stack.deps.db.execute<{ id: string }>(sql`select id from tenants where name = ${tenant}`);
  return { tenant, tenantId: row!.id, client };
}

type Client = Awaited<ReturnType<typeof tenantClient>>['client'];

async function publish(client: Client, name: string, version: string, uses = 'pkg:demo/echo@1.0.0') {
  const wf = await client.workflows.create.mutate({ name, version, tasks: [{ id: 't1', uses, ...(uses.includes('fail') ? { with: {} } : {}) }] } as never);
  await client.workflows.publish.mutate({ id: wf.id });
  return wf;
}

async function runAll(client: Client, workflowId: string, n: number) {
  const started = await Promise.all(Array.from({ length: n }, () => client.executions.start.mutate({ workflowId })));
  return eventually(async () => {
    const views = await Promise.all(started.map((e) => client.executions.get.query({ id: e.id })));
    return views.every((v) => v.status === 'succeeded' || v.status === 'failed') ? views : null;
  }, { what: 'executions to finish' });
}

describe('error budget', () => {
  it('rolls back the active canaries when the last 15 minutes burn over 10 %/h, and pages', async () => {
    const { tenantId, client } = await tenantClient('burn');
    await publish(client, 'svc', '1.0.0');
    const canary = await publish(client, 'svc', '1.1.0');
    const { release } = await client.releases.start.mutate({ workflowId: canary.id });
    const broken = await publish(client, 'other', '1.0.0', 'pkg:mc/fail@1.0.0');
    await runAll(client, broken.id, 6);

    const outcomes = await evaluateErrorBudgets(stack.deps, new Date());
    const mine = outcomes.find((o) => o.tenantId === tenantId)!;
    expect(mine.evaluation.autoRollback).toBe(true);
    expect(mine.rolledBack).toEqual([release!.id]);
    expect(mine.alertsRaised.sort()).toEqual(['budget_auto_rollback', 'budget_page']);

    const after = await client.releases.get.query({ id: release!.id });
    expect(after).toMatchObject({ status: 'rolled_back', weight: 0, outcomeReason: 'error_budget_burn' });
    const audit = await client.audit.list.query({ type: 'mc.release.rollback', workflowId: canary.id });
    expect(audit.items[0]!.data).toMatchObject({ reason: 'error_budget_burn', releaseId: release!.id });

    const state = await client.releases.errorBudget.query();
    expect(state.burnRatePerHour).toBeGreaterThan(0.1);
    expect(state.remainingRatio).toBeLessThan(1);
    expect(state.alerts.map((a) => a.kind).sort()).toEqual(['budget_auto_rollback', 'budget_page']);

    // Raised once per period: evaluating again adds no alert.
    const again = (await evaluateErrorBudgets(stack.deps, new Date())).find((o) => o.tenantId === tenantId)!;
    expect(again.alertsRaised).toEqual([]);
  });

  it('freezes publishing after two hot days (rollbacks still allowed) and lifts it by the exit criteria', async () => {
    const { tenantId, client } = await tenantClient('freeze');
    await publish(client, 'app', '1.0.0');
    await publish(client, 'app', '2.0.0');
    const ok = await publish(client, 'ok', '1.0.0');
    const bad = await publish(client, 'bad', '1.0.0', 'pkg:mc/fail@1.0.0');
    const runs = [...(await runAll(client, ok.id, 40)), ...(await runAll(client, bad.id, 4))];
    // The recorded outcomes, moved into the two days before today: 9 % failing on each (over 50 % of the budget a day).
    const now = new Date();
    const dayStart = Math.floor(now.getTime() / 86_400_000) * 86_400_000;
    const days = [new Date(dayStart - 36 * 3_600_000), new Date(dayStart - 12 * 3_600_000)];
    for (const [i, r] of runs.entries()) {
      await stack.deps.db.execute(sql`update executions set finished_at = ${days[i % 2]!.toISOString()} where id = ${r.id}`);
    }
    const outcome = (await evaluateErrorBudgets(stack.deps, now)).find((o) => o.tenantId === tenantId)!;
    expect(outcome.evaluation.freeze.active).toBe(true);
    expect(outcome.alertsRaised).toContain('freeze_entered');

    const state = await client.releases.errorBudget.query();
    expect(state.freeze).toMatchObject({ active: true, manual: false });

    // The freeze pack now denies a new version, and a canary of one; a rollback to an older version passes.
    const next = await client.workflows.create.mutate({ name: 'app', version: '3.0.0', tasks: [{ id: 't1', uses: 'pkg:demo/echo@1.0.0' }] } as never);
    await expect(client.workflows.publish.mutate({ id: next.id })).rejects.toThrow(/change_freeze/);
    const older = await client.workflows.create.mutate({ name: 'app', version: '1.5.0', tasks: [{ id: 't1', uses: 'pkg:demo/echo@1.0.0' }] } as never);
    expect((await client.workflows.publish.mutate({ id: older.id })).status).toBe('published');
    await expect(client.releases.start.mutate({ workflowId: (await client.workflows.list.query({ name: 'app', status: 'published' })).items.find((w) => w.version === '2.0.0')!.id })).rejects.toThrow(
      /change_freeze/,
    );
    // Another tenant is not frozen.
    const other = await tenantClient('thaw');
    await publish(other.client, 'app', '1.0.0');

    // Three calm days later with the hot days out of the window: lifted.
    const later = new Date(now.getTime() + 32 * 86_400_000);
    const lifted = (await evaluateErrorBudgets(stack.deps, later)).find((o) => o.tenantId === tenantId)!;
    expect(lifted.evaluation.freeze.active).toBe(false);
    expect(lifted.alertsRaised).toContain('freeze_lifted');
    expect((await client.workflows.publish.mutate({ id: next.id })).status).toBe('published');
  });

  it('serves the error-budget gauges on /metrics', async () => {
    const res = await stack.app.handle(new Request('http://mc.test/metrics'));
    const text = await res.text();
    expect(text).toMatch(/mc_error_budget_remaining_ratio\{tenant="burn-[a-z0-9]+"\} /);
    expect(text).toMatch(/mc_error_budget_burn_rate\{tenant="burn-[a-z0-9]+",window="15m"\} /);
  });
});

describe('Sev1 detection (incident playbook)', () => {
  it('opens one incident on API 5xx over 5 % for 5 minutes, sets canaries to weight 0, and clears', async () => {
    const { client } = await tenantClient('sev1');
    await publish(client, 'svc', '1.0.0');
    const canary = await publish(client, 'svc', '1.1.0');
    const { release } = await client.releases.start.mutate({ workflowId: canary.id });
    const now = new Date();
    const minute = new Date(Math.floor(now.getTime() / 60_000) * 60_000 - 60_000);
    await addApiRequestCounts(stack.deps.db, [{ minute, total: 200, errors5xx: 30 }]);

    const first = await detectIncidents(stack.deps, now);
    const api = first.find((o) => o.finding.criterion === 'api_5xx_rate')!;
    expect(api.opened).toBe(true);
    expect(api.rolledBack).toContain(release!.id);
    expect((await client.releases.get.query({ id: release!.id })).outcomeReason).toBe('sev1');
    const audit = await client.audit.list.query({ type: 'mc.release.rollback', workflowId: canary.id });
    expect(audit.items[0]!.data).toMatchObject({ reason: 'sev1', evidence: { criterion: 'api_5xx_rate', incidentId: api.incidentId } });

    const second = (await detectIncidents(stack.deps, now)).find((o) => o.finding.criterion === 'api_5xx_rate')!;
    expect(second).toMatchObject({ opened: false, incidentId: api.incidentId });
    const incidents = await client.releases.incidents.query();
    expect(incidents.filter((i) => i.criterion === 'api_5xx_rate' && i.clearedAt === null)).toHaveLength(1);
    expect((await client.releases.errorBudget.query()).alerts.some((a) => a.kind === 'sev1')).toBe(true);

    // Ten minutes on, the window holds no errors: the incident is cleared.
    const cleared = (await detectIncidents(stack.deps, new Date(now.getTime() + 10 * 60_000))).find((o) => o.finding.criterion === 'api_5xx_rate')!;
    expect(cleared.cleared).toBe(true);
    expect((await client.releases.incidents.query()).find((i) => i.id === api.incidentId)!.clearedAt).not.toBeNull();
  });

  it('opens an incident on publish→start p95 over 5 s for 10 minutes', async () => {
    const { client } = await tenantClient('slow');
    const wf = await publish(client, 'svc', '1.0.0');
    const runs = await runAll(client, wf.id, 6);
    for (const r of runs) await stack.deps.db.execute(sql`update executions set created_at = started_at - interval '6 seconds' where id = ${r.id}`);
    const found = (await detectIncidents(stack.deps, new Date())).find((o) => o.finding.criterion === 'publish_to_start_p95')!;
    expect(found.finding.breached).toBe(true);
    expect(found.finding.evidence.p95Ms as number).toBeGreaterThan(5000);
    expect(found.incidentId).not.toBeNull();
  });
});

describe('the release controller job', () => {
  it('runs as a repeatable BullMQ job in the worker and rolls a breaching canary back by itself', async () => {
    const own = await startTestStack({ MC_CANARY_MIN_SAMPLES: '5', MC_RELEASE_CONTROLLER_INTERVAL_MS: '300' });
    try {
      const wf = await own.trpc.workflows.create.mutate({ name: 'auto', version: '1.0.0', tasks: [{ id: 't1', uses: 'pkg:demo/echo@1.0.0' }] });
      await own.trpc.workflows.publish.mutate({ id: wf.id });
      const bad = await own.trpc.workflows.create.mutate({ name: 'auto', version: '1.1.0', tasks: [{ id: 't1', uses: 'pkg:mc/fail@1.0.0', with: {} }] });
      await own.trpc.workflows.publish.mutate({ id: bad.id });
      const { release } = await own.trpc.releases.start.mutate({ workflowId: bad.id });
      await own.trpc.executions.start.mutate({ workflowId: bad.id });
      const rolled = await eventually(async () => {
        const r = await own.trpc.releases.get.query({ id: release!.id });
        return r.status === 'rolled_back' ? r : null;
      }, { what: 'the controller to roll back', timeoutMs: 20_000 });
      expect(rolled.outcomeReason).toBe('slo_breach');
    } finally {
      await own.close();
    }
  });
});
