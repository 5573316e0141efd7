import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { sql } from 'drizzle-orm';
import { addSpend, pruneSpend, windowSpendUsd } from '@mc/server/policy/spend-ledger';
import { eventually, startTestStack, type TestStack } from '../support/test-stack.ts';

// The budget pack's rolling window is read from running totals (server/policy/spend-ledger.ts),
// not from a scan of executions. These tests hold the totals to the scan they replace.
let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({}, { worker: true });
});
afterAll(async () => {
  await stack.close();
});

async function tenantId(): Promise<string> {
  const [row] = await stack.deps.db.execute<{ id: string }>(sql`select tenant_id as id from api_tokens limit 1`);
  return row!.id;
}

/** What the window was before the ledger: finished runs at their cost, unfinished ones at their estimate. */
async function scannedSpend(tenant: string): Promise<number> {
  const [row] = await stack.deps.db.execute<{ total: string }>(sql`
    select coalesce(sum(case when finished_at is null then cost_estimate_usd else cost_usd end), 0) as total
    from executions where tenant_id = ${tenant} and created_at >= now() - interval '24 hours'`);
  return Number(row!.total);
}

async function publish(tasks: unknown[]): Promise<string> {
  const wf = await stack.trpc.workflows.create.mutate({ name: `spend-${crypto.randomUUID().slice(0, 8)}`, version: '1.0.0', tasks } as never);
  await stack.trpc.workflows.publish.mutate({ id: wf.id });
  return wf.id;
}

describe('the spend ledger behind the budget window', () => {
  it('agrees with a scan of executions: estimates while running, costs once finished (a failed run costs less than estimated)', async () => {
    const tenant = await tenantId();
    const ok = await publish([{ id: 'a', uses: 'pkg:demo/echo@1.0.0' }, { id: 'b', uses: 'pkg:demo/echo@1.0.0', needs: ['a'] }]);
    const failing = await publish([
      { id: 'a', uses: 'pkg:mc/fail@1.0.0' },
      { id: 'b', uses: 'pkg:mc/http@1.0.0', needs: ['a'], with: { url: 'http://127.0.0.1:9/never' } },
    ]);
    const started = [];
    for (let i = 0; i < 4; i++) started.push(await stack.trpc.executions.start.mutate({ workflowId: i % 2 === 0 ? ok : failing }));
    // Right after the starts, unfinished runs count at their estimate. The worker is finishing
    // runs meanwhile, so the two reads are compared only when no run finished between them.
    let ledger = 0;
    let scan = 0;
    for (let attempt = 0; attempt < 50; attempt++) {
      const before = await scannedSpend(tenant);
      ledger = await windowSpendUsd(stack.deps.db, tenant, 24);
      scan = await scannedSpend(tenant);
      if (scan === before) break;
    }
    expect(ledger).toBeCloseTo(scan, 4);
    await eventually(async () => {
      const [row] = await stack.deps.db.execute<{ n: number }>(sql`select count(*)::int as n from executions where finished_at is null`);
      return row!.n === 0;
    }, { what: 'every run to finish', timeoutMs: 30_000 });
    const scanned = await scannedSpend(tenant);
    // 2 runs × 2 echo steps at 0.0001; the failing runs spend nothing (a failed step is not charged,
    // the skipped http step never ran) although each was estimated at 0.0006.
    expect(scanned).toBeCloseTo(0.0004, 4);
    expect(await windowSpendUsd(stack.deps.db, tenant, 24)).toBeCloseTo(scanned, 4);
  });

  it('refuses a start once many cheap runs add up past the tenant window (budget smuggling)', async () => {
    const tenant = await tenantId();
    const wf = await publish([{ id: 'a', uses: 'pkg:demo/echo@1.0.0' }]);
    const before = await windowSpendUsd(stack.deps.db, tenant, 24);
    stack.deps.config.MC_BUDGET_TENANT_WINDOW_USD = before + 0.00025;
    try {
      expect((await stack.rest('POST', '/api/executions', { workflowId: wf })).status).toBe(201);
      expect((await stack.rest('POST', '/api/executions', { workflowId: wf })).status).toBe(201);
      const third = await stack.rest('POST', '/api/executions', { workflowId: wf });
      expect(third.status).toBe(403);
      expect(third.body.error.details.reasons).toContain('tenant_budget_exceeded');
    } finally {
      stack.deps.config.MC_BUDGET_TENANT_WINDOW_USD = 1000;
    }
  });

  it('counts only the minutes inside the window, and retention prunes the rest', async () => {
    const tenant = await tenantId();
    const now = new Date();
    const base = await windowSpendUsd(stack.deps.db, tenant, 1, now);
    await addSpend(stack.deps.db, tenant, new Date(now.getTime() - 2 * 3_600_000), 5);
    await addSpend(stack.deps.db, tenant, new Date(now.getTime() - 30 * 60_000), 1.5);
    await addSpend(stack.deps.db, tenant, new Date(now.getTime() - 30 * 60_000), -0.5);
    expect(await windowSpendUsd(stack.deps.db, tenant, 1, now)).toBeCloseTo(base + 1, 4);
    expect(await windowSpendUsd(stack.deps.db, tenant, 3, now)).toBeCloseTo(base + 6, 4);
    expect(await pruneSpend(stack.deps.db, new Date(now.getTime() - 3_600_000))).toBeGreaterThan(0);
    expect(await windowSpendUsd(stack.deps.db, tenant, 3, now)).toBeCloseTo(base + 1, 4);
  });
});
