import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { runCanaryController } from '@mc/server/releases/canary-controller';
import { routeBucket } from '@mc/server/releases/routing';
import { sql } from 'drizzle-orm';
import { freePort } from '../support/free-port.ts';
import { eventually, startTestStack, type TestStack } from '../support/test-stack.ts';

/**
 * Canary rollouts end to end (docs/ops/ROLLOUT_PLAYBOOK.md): real Postgres, Redis and workers;
 * the controller is driven tick by tick with an injected clock, windows shortened to a minute.
 */
let stack: TestStack;
const windowMs = 60_000;

beforeAll(async () => {
  stack = await startTestStack({
    MC_CANARY_WEIGHTS: '10,50',
    MC_CANARY_WINDOWS_MS: `${windowMs},${2 * windowMs}`,
    MC_CANARY_MIN_SAMPLES: '5',
    // Ticks are driven by the tests, at the times they choose.
    MC_RELEASE_CONTROLLER_INTERVAL_MS: '0',
  });
});
afterAll(async () => {
  await stack.close();
});

let seq = 0;
async function publish(name: string, version: string, tasks: unknown[] = [{ id: 't1', uses: 'pkg:demo/echo@1.0.0' }], extra: Record<string, unknown> = {}) {
  const wf = await stack.trpc.workflows.create.mutate({ name, version, tasks, ...extra } as never);
  await stack.trpc.workflows.publish.mutate({ id: wf.id });
  return wf;
}

/** A workflow name with a stable 1.0.0 and a published canary candidate; the release started. */
async function releaseOf(canaryTasks?: unknown[], canaryExtra: Record<string, unknown> = {}) {
  const name = `rel-${++seq}-${Date.now().toString(36)}`;
  const stable = await publish(name, '1.0.0');
  const canary = await publish(name, '1.1.0', canaryTasks, canaryExtra);
  const started = await stack.trpc.releases.start.mutate({ workflowId: canary.id });
  expect(started.outcome).toBe('started');
  return { name, stable, canary, release: started.release! };
}

/** Routing keys that land on the given arm of a release at its current weight. */
function keysFor(releaseId: string, arm: 'canary' | 'stable', weight: number, n: number): string[] {
  const keys: string[] = [];
  for (let i = 0; keys.length < n; i++) {
    const key = `k-${i}`;
    if ((routeBucket(releaseId, key) < weight) === (arm === 'canary')) keys.push(key);
  }
  return keys;
}

async function startByName(name: string, routingKey: string, extra: Record<string, unknown> = {}) {
  return stack.trpc.executions.start.mutate({ workflowName: name, routingKey, ...extra });
}

async function settle(ids: string[]) {
  return eventually(async () => {
    const views = await Promise.all(ids.map((id) => stack.trpc.executions.get.query({ id })));
    return views.every((v) => v.status === 'succeeded' || v.status === 'failed') ? views : null;
  }, { what: 'executions to finish', timeoutMs: 30_000 });
}

const at = (release: { stageStartedAt: Date }, ms: number) => new Date(release.stageStartedAt.getTime() + ms);
const tick = (now: Date) => runCanaryController(stack.deps, now);

describe('releases: routing by name', () => {
  it('sends a request by name to the canary or the stable version by its weight, the same key always to the same version', async () => {
    const { name, stable, canary, release } = await releaseOf();
    expect(release.weight).toBe(10);
    const [ck] = keysFor(release.id, 'canary', 10, 1);
    const [sk] = keysFor(release.id, 'stable', 10, 1);
    const a = await startByName(name, ck!);
    const b = await startByName(name, ck!);
    const c = await startByName(name, sk!);
    expect(a.workflowId).toBe(canary.id);
    expect(b.workflowId).toBe(canary.id);
    expect(a.rollout).toBe('canary');
    expect(c.workflowId).toBe(stable.id);
    expect(c.rollout).toBe('stable');
    // A retry with the same idempotency key is the same execution, whatever the weight does.
    const first = await stack.trpc.executions.start.mutate({ workflowName: name, idempotencyKey: `idem-${name}` });
    const again = await stack.trpc.executions.start.mutate({ workflowName: name, idempotencyKey: `idem-${name}` });
    expect(again.id).toBe(first.id);
    expect(again.created).toBe(false);
  });

  it('spreads random keys close to the weight', () => {
    const id = crypto.randomUUID();
    let canary = 0;
    for (let i = 0; i < 20_000; i++) if (routeBucket(id, `r${i}`) < 10) canary++;
    expect(canary / 20_000).toBeGreaterThan(0.09);
    expect(canary / 20_000).toBeLessThan(0.11);
  });

  it('asks for exactly one of workflowId and workflowName', async () => {
    const both = await stack.rest('POST', '/api/executions', { workflowId: crypto.randomUUID(), workflowName: 'x' });
    expect(both.status).toBe(400);
    const neither = await stack.rest('POST', '/api/executions', {});
    expect(neither.status).toBe(400);
    const unknown = await stack.rest('POST', '/api/executions', { workflowName: 'no-such-workflow' });
    expect(unknown.status).toBe(404);
  });

  it("enters {workflowId, rollout: 'canary'} as its workflow's canary; a first version becomes stable", async () => {
    const name = `spec-canary-${Date.now().toString(36)}`;
    const v1 = await publish(name, '0.1.0');
    const first = await stack.rest('POST', '/api/executions', { workflowId: v1.id, rollout: 'canary' });
    expect(first.status).toBe(201);
    expect(first.body.workflowId).toBe(v1.id);
    expect((await stack.trpc.releases.list.query({ workflowName: name })).length).toBe(0);
    const v2 = await publish(name, '0.2.0');
    const second = await stack.rest('POST', '/api/executions', { workflowId: v2.id, rollout: 'canary' });
    expect(second.status).toBe(201);
    expect(second.body.rollout).toBe('canary');
    const [release] = await stack.trpc.releases.list.query({ workflowName: name });
    expect(release).toMatchObject({ status: 'active', weight: 10, canary: { id: v2.id, version: '0.2.0' }, stable: { id: v1.id, version: '0.1.0' } });
    // Without `rollout`, a version runs as is.
    const plain = await stack.rest('POST', '/api/executions', { workflowId: v1.id });
    expect(plain.body.workflowId).toBe(v1.id);
  });
});

describe('releases: the canary controller', () => {
  it('takes a healthy canary 10 → 50 → 100 and makes it stable', async () => {
    const { name, canary, release } = await releaseOf();
    const stage0 = await Promise.all(keysFor(release.id, 'canary', 10, 5).map((k) => startByName(name, k)));
    await Promise.all(keysFor(release.id, 'stable', 10, 3).map((k) => startByName(name, k)));
    await settle(stage0.map((e) => e.id));

    expect(await tick(at(release, windowMs / 2))).toContainEqual({ releaseId: release.id, verdict: 'window_open', action: 'held' });
    expect((await stack.trpc.releases.get.query({ id: release.id })).weight).toBe(10);

    expect(await tick(at(release, windowMs + 1))).toContainEqual({ releaseId: release.id, verdict: 'pass', action: 'promoted' });
    const promoted = await stack.trpc.releases.get.query({ id: release.id });
    expect(promoted).toMatchObject({ weight: 50, stage: 1, status: 'active' });

    // The new stage starts without data: its window passing alone promotes nothing.
    expect(await tick(at(promoted, 2 * windowMs + 1))).toContainEqual({ releaseId: release.id, verdict: 'insufficient_data', action: 'held' });
    const stage1 = await Promise.all(keysFor(release.id, 'canary', 50, 5).map((k) => startByName(name, k)));
    await settle(stage1.map((e) => e.id));
    expect(await tick(at(promoted, 2 * windowMs + 2))).toContainEqual({ releaseId: release.id, verdict: 'pass', action: 'completed' });

    const done = await stack.trpc.releases.get.query({ id: release.id });
    expect(done).toMatchObject({ status: 'completed', weight: 100, outcomeReason: 'promoted' });
    expect(done.events.map((e) => [e.kind, e.fromWeight, e.toWeight])).toEqual([
      ['started', 0, 10],
      ['promoted', 10, 50],
      ['held', 50, 50],
      ['completed', 50, 100],
    ]);
    // Every request by name now runs the new stable version.
    const after = await startByName(name, 'anyone');
    expect(after.workflowId).toBe(canary.id);
  });

  it('rolls back a canary whose tasks fail within one window; the stable version keeps serving', async () => {
    const { name, stable, canary, release } = await releaseOf([{ id: 't1', uses: 'pkg:mc/fail@1.0.0', with: {} }]);
    const canaryRuns = await Promise.all(keysFor(release.id, 'canary', 10, 2).map((k) => startByName(name, k)));
    const stableRuns = await Promise.all(keysFor(release.id, 'stable', 10, 5).map((k) => startByName(name, k)));
    const settled = await settle([...canaryRuns, ...stableRuns].map((e) => e.id));
    expect(settled.filter((v) => v.workflowId === canary.id).every((v) => v.status === 'failed')).toBe(true);

    expect(await tick(at(release, 1_000))).toContainEqual({ releaseId: release.id, verdict: 'breach', action: 'rolled_back' });
    const rolled = await stack.trpc.releases.get.query({ id: release.id });
    expect(rolled).toMatchObject({ status: 'rolled_back', weight: 0, outcomeReason: 'slo_breach' });

    const events = await stack.trpc.audit.list.query({ type: 'mc.release.rollback', workflowId: canary.id });
    expect(events.items).toHaveLength(1);
    const data = events.items[0]!.data as { reason: string; releaseId: string; evidence: { analysis: { verdict: string; canary: { failed: number }; checks: { metric: string; result: string }[] } } };
    expect(data.reason).toBe('slo_breach');
    expect(data.releaseId).toBe(release.id);
    expect(data.evidence.analysis.canary.failed).toBe(2);
    expect(data.evidence.analysis.checks.find((c) => c.metric === 'errorRate')?.result).toBe('breach');

    // Weight 0: the keys that went to the canary now run the stable version.
    const retry = await startByName(name, keysFor(release.id, 'canary', 10, 1)[0]!);
    expect(retry.workflowId).toBe(stable.id);
    // A later tick does nothing more.
    await tick(at(release, windowMs * 10));
    expect((await stack.trpc.audit.list.query({ type: 'mc.release.rollback', workflowId: canary.id })).items).toHaveLength(1);
  });

  it('rolls back a canary over the p95 threshold', async () => {
    const { name, release } = await releaseOf([{ id: 't1', uses: 'pkg:mc/sleep@1.0.0', with: { ms: 1000 } }]);
    const runs = await Promise.all(keysFor(release.id, 'canary', 10, 2).map((k) => startByName(name, k)));
    await settle(runs.map((e) => e.id));
    const [decision] = (await tick(at(release, 1_000))).filter((d) => d.releaseId === release.id);
    expect(decision).toEqual({ releaseId: release.id, verdict: 'breach', action: 'rolled_back' });
    const rolled = await stack.trpc.releases.get.query({ id: release.id });
    const evidence = rolled.events.at(-1)!.data as { evidence: { analysis: { canary: { p95Ms: number; slow: number } } } };
    expect(evidence.evidence.analysis.canary.p95Ms).toBeGreaterThan(900);
    expect(evidence.evidence.analysis.canary.slow).toBe(2);
  });

  it('rolls back a canary whose requests policy denies', async () => {
    // The canary moved to another region: requests from `us` are refused by the residency pack.
    const { name, release } = await releaseOf(undefined, { region: 'eu' });
    for (const k of keysFor(release.id, 'canary', 10, 2)) {
      await expect(startByName(name, k, { region: 'us' })).rejects.toThrow(/residency/);
    }
    const [decision] = (await tick(at(release, 1_000))).filter((d) => d.releaseId === release.id);
    expect(decision).toEqual({ releaseId: release.id, verdict: 'breach', action: 'rolled_back' });
  });

  it('never promotes a canary that receives no traffic', async () => {
    const { release } = await releaseOf();
    for (const m of [1, 2, 10, 100]) {
      const decisions = (await tick(at(release, m * windowMs + 1))).filter((d) => d.releaseId === release.id);
      expect(decisions).toEqual([{ releaseId: release.id, verdict: 'insufficient_data', action: 'held' }]);
    }
    const after = await stack.trpc.releases.get.query({ id: release.id });
    expect(after).toMatchObject({ status: 'active', weight: 10, stage: 0, version: 1 });
    expect(after.events.filter((e) => e.kind === 'held')).toHaveLength(1);
  });

  it('makes one promotion per window when controllers race', async () => {
    const { name, release } = await releaseOf();
    const runs = await Promise.all(keysFor(release.id, 'canary', 10, 5).map((k) => startByName(name, k)));
    await settle(runs.map((e) => e.id));
    const now = at(release, windowMs + 1);
    const all = (await Promise.all(Array.from({ length: 6 }, () => tick(now)))).flat().filter((d) => d.releaseId === release.id);
    expect(all.filter((d) => d.action === 'promoted')).toHaveLength(1);
    const after = await stack.trpc.releases.get.query({ id: release.id });
    expect(after).toMatchObject({ weight: 50, stage: 1, version: 2 });
    expect(after.events.filter((e) => e.kind === 'promoted')).toHaveLength(1);
  });
});

describe('releases: operators and the breach simulator', () => {
  it('POST /breach (spec §13) rolls back the active canary through the same path', async () => {
    const { name, canary, release } = await releaseOf();
    const ok = await stack.rest('POST', '/breach', { service: name, metric: 'p95LatencyMs', value: 800, threshold: 900 });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ breach: false, rolledBack: [] });
    expect((await stack.trpc.releases.get.query({ id: release.id })).status).toBe('active');

    const res = await stack.rest('POST', '/breach', { service: 'mc', metric: 'p95LatencyMs', value: 1120, threshold: 900 });
    expect(res.status).toBe(200);
    expect(res.body.breach).toBe(true);
    expect(res.body.rolledBack).toContain(release.id);
    expect((await stack.trpc.releases.get.query({ id: release.id })).outcomeReason).toBe('breach_simulator');
    const events = await stack.trpc.audit.list.query({ type: 'mc.release.rollback', workflowId: canary.id });
    expect(events.items[0]!.data).toMatchObject({ reason: 'breach_simulator', evidence: { metric: 'p95LatencyMs', value: 1120, threshold: 900 } });
  });

  it('tools/canary/breach-sim.sh reports a breach over HTTP and the canary is rolled back', async () => {
    const { name, release } = await releaseOf();
    const port = await freePort();
    const server = Bun.serve({ hostname: '127.0.0.1', port, fetch: (req) => stack.app.handle(req) });
    try {
      const proc = Bun.spawn(['bash', 'tools/canary/breach-sim.sh', name], {
        cwd: new URL('../..', import.meta.url).pathname,
        env: { PATH: process.env.PATH ?? '', CM_URL: `http://127.0.0.1:${port}`, MC_TOKEN: stack.adminToken },
        stdout: 'pipe',
        stderr: 'pipe',
      });
      const out = await new Response(proc.stdout).text();
      expect(await proc.exited).toBe(0);
      expect(JSON.parse(out)).toMatchObject({ breach: true, service: name, metric: 'p95LatencyMs', value: 1120, threshold: 900, rolledBack: [release.id] });
    } finally {
      server.stop(true);
    }
    expect((await stack.trpc.releases.get.query({ id: release.id })).status).toBe('rolled_back');
  });

  it('is admin-only and validates its body', async () => {
    const operator = await stack.tokenFor('operator');
    const denied = await stack.rest('POST', '/api/breach', { service: 'mc', metric: 'errorRate', value: 1, threshold: 0.01 }, { authorization: `Bearer ${operator}` });
    expect(denied.status).toBe(403);
    const bad = await stack.rest('POST', '/api/breach', { service: 'mc', metric: 'errorRate', value: 'high' });
    expect(bad.status).toBe(400);
  });

  it('lets an operator promote and roll back, refusing a stale version', async () => {
    const { release } = await releaseOf();
    const operator = await stack.tokenFor('operator');
    const as = { authorization: `Bearer ${operator}` };
    const promoted = await stack.rest('POST', `/api/releases/${release.id}/promote`, { expectedVersion: 1, reason: 'looks good' }, as);
    expect(promoted.status).toBe(200);
    expect(promoted.body).toMatchObject({ weight: 50, version: 2 });
    const stale = await stack.rest('POST', `/api/releases/${release.id}/promote`, { expectedVersion: 1 }, as);
    expect(stale.status).toBe(409);
    const rolled = await stack.rest('POST', `/api/releases/${release.id}/rollback`, { expectedVersion: 2, reason: 'customer report' }, as);
    expect(rolled.status).toBe(200);
    expect(rolled.body).toMatchObject({ status: 'rolled_back', weight: 0, outcomeReason: 'manual' });
    const viewer = await stack.tokenFor('viewer');
    const refused = await stack.rest('POST', `/api/releases/${release.id}/rollback`, {}, { authorization: `Bearer ${viewer}` });
    expect(refused.status).toBe(403);
  });

  it('exports the canary report with windows, metrics, decisions and who made them', async () => {
    const { name, release } = await releaseOf();
    const runs = await Promise.all(keysFor(release.id, 'canary', 10, 5).map((k) => startByName(name, k)));
    await settle(runs.map((e) => e.id));
    await tick(at(release, windowMs + 1));
    await stack.rest('POST', '/api/breach', { service: name, metric: 'errorRate', value: 0.2, threshold: 0.01 });
    const res = await stack.rest('GET', `/api/releases/${release.id}/report`);
    expect(res.status).toBe(200);
    const report = res.body;
    expect(report.schema).toBe('mc.release.report.v1');
    expect(report.release).toMatchObject({ id: release.id, status: 'rolled_back', stageWeights: [10, 50], stageWindowsMs: [windowMs, 2 * windowMs] });
    expect(report.stages[0]).toMatchObject({ stage: 0, weight: 10, windowMs, metrics: { canary: { finished: 5, failed: 0 } }, decision: { kind: 'promoted', actor: 'system:canary-controller' } });
    expect(report.stages[0].decision.evidence.analysis.verdict).toBe('pass');
    expect(report.stages[1]).toMatchObject({ stage: 1, weight: 50, decision: { kind: 'rolled_back' } });
    expect(report.timeline.map((e: { kind: string }) => e.kind)).toEqual(['started', 'promoted', 'breach_reported', 'rolled_back']);
    expect(report.timeline[0].actor).toBe(report.release.startedBy);
    expect(report.auditEvents).toHaveLength(1);
    expect(report.auditEvents[0].type).toBe('mc.release.rollback');
    const missing = await stack.rest('GET', `/api/releases/${crypto.randomUUID()}/report`);
    expect(missing.status).toBe(404);
  });

  it('refuses a second release of a name while one is active', async () => {
    const { name } = await releaseOf();
    const other = await publish(name, '1.2.0');
    const res = await stack.rest('POST', '/api/releases', { workflowId: other.id });
    expect(res.status).toBe(409);
    expect((await stack.rest('POST', '/api/releases', { workflowId: 'nope' })).status).toBe(400);
    expect((await stack.rest('POST', '/api/releases', { workflowId: crypto.randomUUID() })).status).toBe(404);
  });

  it('records the request counts the Sev1 detector reads', async () => {
    const { flushApiRequestCounts } = await import('@mc/server/releases/api-request-stats');
    await stack.rest('GET', '/api/releases');
    await flushApiRequestCounts(stack.deps);
    const rows = await stack.deps.db.execute<{ total: string }>(sql`select coalesce(sum(total), 0) as total from api_request_minutes`);
    expect(Number(rows[0]!.total)).toBeGreaterThan(0);
  });
});
