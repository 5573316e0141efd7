import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { eq, sql } from 'drizzle-orm';
import { auditEvents, policyDecisions } from '@mc/server/db/schema';
import { startTestStack, type TestStack } from '../support/test-stack.ts';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack.close();
});

async function publish(extra: Record<string, unknown> = {}, name = `p-${crypto.randomUUID().slice(0, 8)}`): Promise<string> {
  const wf = await stack.trpc.workflows.create.mutate({ name, version: '1.0.0', tasks: [{ id: 't1', uses: 'pkg:demo/echo@1.0.0' }], ...extra });
  await stack.trpc.workflows.publish.mutate({ id: wf.id });
  return wf.id;
}

async function count(table: 'executions'): Promise<number> {
  return (await stack.deps.db.execute<{ n: number }>(sql.raw(`select count(*)::int as n from ${table}`)))[0]!.n;
}

describe('policy at execute (seed matrix)', () => {
  it('allows a clean request, records every decision, and puts them in the receipt', async () => {
    const wfId = await publish();
    const exec = await stack.trpc.executions.start.mutate({ workflowId: wfId });
    expect(exec.policyDecisions.map((d) => d.pack).sort()).toEqual(['access', 'budget', 'pii', 'residency']);
    expect(exec.policyDecisions.every((d) => d.allow)).toBe(true);
    const receipt = await stack.trpc.receipts.get.query({ executionId: exec.id });
    const policy = (receipt.receipt as { predicate: { policy: { bundleDigest: string; decisions: { decisionId: string }[] } } }).predicate.policy;
    const bundle = await Bun.file('policy/bundles.sha256').text();
    expect(policy.bundleDigest).toBe(`sha256:${new Bun.CryptoHasher('sha256').update(bundle).digest('hex')}`);
    expect(policy.decisions.map((d) => d.decisionId).sort()).toEqual(exec.policyDecisions.map((d) => d.decisionId).sort());
  });

  const denials: [string, () => Promise<{ workflowId: string; body: Record<string, unknown> }>, string, string][] = [
    ['PII in the inputs of an internal workflow', async () => ({ workflowId: await publish(), body: { inputs: { contact: 'ada@example.com' } } }), 'pii', 'pii_detected:email@request.inputs.contact'],
    ['a request from another region', async () => ({ workflowId: await publish(), body: { region: 'eu' } }), 'residency', 'residency_mismatch'],
    [
      'a run over its budget',
      async () => ({ workflowId: await publish({ tasks: Array.from({ length: 30 }, (_, i) => ({ id: `h${i}`, uses: 'pkg:mc/http@1.0.0', with: { url: 'http://127.0.0.1:9/x' } })) }), body: {} }),
      'budget',
      'run_budget_exceeded',
    ],
  ];

  for (const [what, setup, pack, reason] of denials) {
    it(`denies ${what} with 403, the pack and its reason, records it, and starts nothing`, async () => {
      if (pack === 'budget') stack.deps.config.MC_BUDGET_PER_RUN_USD = 0.01;
      try {
        const { workflowId, body } = await setup();
        const before = await count('executions');
        const res = await stack.rest('POST', '/api/executions', { workflowId, ...body });
        expect(res.status).toBe(403);
        expect(res.body.error.code).toBe('POLICY_DENIED');
        expect(res.body.error.details.pack).toBe(pack);
        expect(res.body.error.details.reasons).toContain(reason);
        expect(await count('executions')).toBe(before);
        const rows = await stack.deps.db.select().from(policyDecisions).where(eq(policyDecisions.workflowId, workflowId));
        const denied = rows.filter((r) => r.phase === 'execute' && !r.allow);
        expect(denied.map((r) => r.pack)).toEqual([pack]);
        expect(denied[0]!.executionId).toBeNull();
        const events = await stack.deps.db.select().from(auditEvents).where(eq(auditEvents.workflowId, workflowId));
        expect(events.some((e) => e.type === 'mc.policy.decision' && (e.data as { allow: boolean; pack: string }).pack === pack && !(e.data as { allow: boolean }).allow)).toBe(true);
      } finally {
        stack.deps.config.MC_BUDGET_PER_RUN_USD = 10;
      }
    });
  }

  it('never repeats the PII itself in a denial reason', async () => {
    const wfId = await publish();
    const res = await stack.rest('POST', '/api/executions', { workflowId: wfId, inputs: { 'ada@example.com': 1 } });
    expect(res.status).toBe(403);
    expect(JSON.stringify(res.body)).not.toContain('ada@example.com');
  });

  it('stops many cheap runs from adding up past the tenant window (budget smuggling)', async () => {
    const wfId = await publish();
    stack.deps.config.MC_BUDGET_TENANT_WINDOW_USD = 0;
    try {
      const res = await stack.rest('POST', '/api/executions', { workflowId: wfId });
      expect(res.status).toBe(403);
      expect(res.body.error.details.reasons).toContain('tenant_budget_exceeded');
    } finally {
      stack.deps.config.MC_BUDGET_TENANT_WINDOW_USD = 1000;
    }
  });

  it('counts denials in mc_policy_denies_total{pack,reason}', async () => {
    const metrics = await stack.rest('GET', '/metrics');
    expect(metrics.body).toContain('mc_policy_denies_total{pack="residency",reason="residency_mismatch"}');
  });
});

describe('plan (dry run)', () => {
  it('returns stages, a cost estimate and every decision, with no execution', async () => {
    const wf = await stack.trpc.workflows.create.mutate({
      name: 'plan-me',
      version: '1.0.0',
      tasks: [
        { id: 'a', uses: 'pkg:demo/echo@1.0.0' },
        { id: 'b', uses: 'pkg:demo/echo@1.0.0', needs: ['a'] },
        { id: 'c', uses: 'pkg:demo/echo@1.0.0', needs: ['a'] },
        { id: 'd', uses: 'pkg:demo/echo@1.0.0', needs: ['b', 'c'] },
      ],
    });
    await stack.trpc.workflows.publish.mutate({ id: wf.id });
    const before = await count('executions');
    const plan = await stack.rest('POST', `/api/workflows/${wf.id}/plan`, { inputs: {} });
    expect(plan.status).toBe(200);
    expect(plan.body).toMatchObject({ stages: [['a'], ['b', 'c'], ['d']], costEstimateUsd: '0.0004', allowed: true });
    expect(plan.body.decisions).toHaveLength(4);
    expect(await count('executions')).toBe(before);
    const denied = await stack.trpc.workflows.plan.mutate({ id: wf.id, region: 'eu' });
    expect(denied.allowed).toBe(false);
    expect(denied.decisions.find((d) => d.pack === 'residency')!.reasons).toEqual(['residency_mismatch']);
  });

  it('does not let a passing plan carry an execute past a policy that changed since', async () => {
    const wfId = await publish();
    const plan = await stack.trpc.workflows.plan.mutate({ id: wfId });
    expect(plan.allowed).toBe(true);
    stack.deps.config.MC_BUDGET_PER_RUN_USD = 0;
    try {
      const res = await stack.rest('POST', '/api/executions', { workflowId: wfId });
      expect(res.status).toBe(403);
      expect(res.body.error.details.reasons).toContain('run_budget_exceeded');
    } finally {
      stack.deps.config.MC_BUDGET_PER_RUN_USD = 10;
    }
  });
});

describe('policy at publish', () => {
  it('denies PII in task defaults unless the workflow is regulated', async () => {
    const wf = await stack.trpc.workflows.create.mutate({ name: 'pii-defaults', version: '1.0.0', tasks: [{ id: 't', uses: 'pkg:demo/echo@1.0.0', with: { ssn: '123-45-6789' } }] });
    const res = await stack.rest('POST', `/api/workflows/${wf.id}/publish`);
    expect(res.status).toBe(403);
    expect(res.body.error.details.pack).toBe('pii');
    expect((await stack.trpc.workflows.get.query({ id: wf.id })).status).toBe('draft');
  });

  it('denies new versions during a change freeze but allows a rollback', async () => {
    const name = `frozen-${crypto.randomUUID().slice(0, 6)}`;
    await publish({ version: '2.0.0' }, name);
    const next = await stack.trpc.workflows.create.mutate({ name, version: '2.1.0', tasks: [{ id: 't1', uses: 'pkg:demo/echo@1.0.0' }] });
    const older = await stack.trpc.workflows.create.mutate({ name, version: '1.9.0', tasks: [{ id: 't1', uses: 'pkg:demo/echo@1.0.0' }] });
    stack.deps.config.MC_CHANGE_FREEZE = true;
    try {
      const refused = await stack.rest('POST', `/api/workflows/${next.id}/publish`);
      expect(refused.status).toBe(403);
      expect(refused.body.error.details.reasons).toEqual(['change_freeze']);
      const rollback = await stack.rest('POST', `/api/workflows/${older.id}/publish`);
      expect(rollback.status).toBe(200);
    } finally {
      stack.deps.config.MC_CHANGE_FREEZE = false;
    }
  });
});
