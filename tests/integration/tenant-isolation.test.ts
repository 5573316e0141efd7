import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { sql } from 'drizzle-orm';
import { startTestStack, type TestStack } from '../support/test-stack.ts';

let stack: TestStack;
let tokenA: string;
let tokenB: string;
let wfB: string;
let execB: string;

beforeAll(async () => {
  stack = await startTestStack();
  tokenA = await stack.tokenFor('admin', 'tenant-a');
  tokenB = await stack.tokenFor('admin', 'tenant-b');
  const b = stack.trpcAs(tokenB);
  const wf = await b.workflows.create.mutate({ name: 'b-only', version: '1.0.0', tasks: [{ id: 't1', uses: 'pkg:demo/echo@1.0.0' }] });
  await b.workflows.publish.mutate({ id: wf.id });
  wfB = wf.id;
  execB = (await b.executions.start.mutate({ workflowId: wf.id })).id;
  await b.receipts.get.query({ executionId: execB });
});
afterAll(async () => {
  await stack.close();
});

describe('tenant isolation', () => {
  it('answers 404 to tenant A for every procedure that names tenant B’s workflow, execution or receipt', async () => {
    const a = stack.trpcAs(tokenA);
    const attempts: [string, () => Promise<unknown>][] = [
      ['workflows.get', () => a.workflows.get.query({ id: wfB })],
      ['workflows.publish', () => a.workflows.publish.mutate({ id: wfB })],
      ['workflows.update', () => a.workflows.update.mutate({ id: wfB, manifest: { name: 'b-only', version: '1.0.0', tasks: [{ id: 't1', uses: 'pkg:demo/echo@1.0.0' }] } })],
      ['workflows.plan', () => a.workflows.plan.mutate({ id: wfB })],
      ['executions.start', () => a.executions.start.mutate({ workflowId: wfB })],
      ['executions.get', () => a.executions.get.query({ id: execB })],
      ['executions.logs', () => a.executions.logs.query({ id: execB })],
      ['receipts.get', () => a.receipts.get.query({ executionId: execB, waitMs: 0 })],
      ['receipts.verify', () => a.receipts.verify.mutate({ executionId: execB })],
    ];
    for (const [name, call] of attempts) {
      const err = (await call().then(() => null, (e) => e)) as { data?: { httpStatus?: number } } | null;
      expect({ name, status: err?.data?.httpStatus }).toEqual({ name, status: 404 });
    }
  });

  it('answers 404 over REST too, including the disclosure pack', async () => {
    const auth = { authorization: `Bearer ${tokenA}` };
    for (const [method, path] of [
      ['GET', `/api/workflows/${wfB}`],
      ['POST', `/api/workflows/${wfB}/publish`],
      ['GET', `/api/executions/${execB}`],
      ['GET', `/api/executions/${execB}/receipt?waitMs=0`],
      ['GET', `/api/executions/${execB}/logs`],
      ['GET', `/api/executions/${execB}/disclosure.tgz`],
    ] as const) {
      const res = await stack.rest(method, path, undefined, auth);
      expect({ path, status: res.status }).toEqual({ path, status: 404 });
      expect(JSON.stringify(res.body)).not.toContain('tenant-b');
    }
  });

  it('lists nothing of tenant B to tenant A: workflows, executions, audit events', async () => {
    const a = stack.trpcAs(tokenA);
    expect((await a.workflows.list.query({})).items).toEqual([]);
    expect((await a.executions.list.query({})).items).toEqual([]);
    expect((await a.audit.list.query({})).items).toEqual([]);
    const b = stack.trpcAs(tokenB);
    expect((await b.workflows.list.query({})).items.map((w) => w.id)).toEqual([wfB]);
    expect((await b.audit.list.query({})).items.length).toBeGreaterThan(0);
  });

  it('lets both tenants use the same workflow name and version', async () => {
    const a = stack.trpcAs(tokenA);
    const mine = await a.workflows.create.mutate({ name: 'b-only', version: '1.0.0', tasks: [{ id: 't1', uses: 'pkg:demo/echo@1.0.0' }] });
    expect(mine.id).not.toBe(wfB);
  });

  it('keeps tenant admins from managing other tenants', async () => {
    const a = stack.trpcAs(tokenA);
    const err = await a.auth.tenants.create.mutate({ name: 'sneaky' }).catch((e) => e);
    expect(err.data.httpStatus).toBe(403);
    const tokenErr = await a.auth.tokens.create.mutate({ name: 'x', role: 'admin', tenant: 'tenant-b' }).catch((e) => e);
    expect(tokenErr.data.httpStatus).toBe(403);
  });
});

describe('API tokens', () => {
  it('are shown once, stored as a hash, and stop working when revoked or their tenant is deleted', async () => {
    const made = await stack.trpc.auth.tokens.create.mutate({ name: 'ci', role: 'operator' });
    expect(made.token).toStartWith('mc_');
    const listed = await stack.trpc.auth.tokens.list.query();
    expect(JSON.stringify(listed)).not.toContain(made.token);
    const rows = await stack.deps.db.execute<{ token_hash: string }>(sql`select token_hash from api_tokens where id = ${made.id}`);
    expect(rows[0]!.token_hash).not.toContain(made.token);

    const asOperator = stack.trpcAs(made.token);
    expect((await asOperator.auth.me.query()).role).toBe('operator');
    await stack.trpc.auth.tokens.revoke.mutate({ id: made.id });
    const revoked = await asOperator.auth.me.query().catch((e) => e);
    expect(revoked.data.httpStatus).toBe(401);
    expect(revoked.message).toContain('revoked');

    const doomed = await stack.tokenFor('admin', 'tenant-doomed');
    expect((await stack.trpcAs(doomed).auth.me.query()).tenant).toBe('tenant-doomed');
    await stack.trpc.auth.tenants.delete.mutate({ name: 'tenant-doomed' });
    const gone = await stack.trpcAs(doomed).auth.me.query().catch((e) => e);
    expect(gone.data.httpStatus).toBe(401);
  });

  it('expire', async () => {
    const made = await stack.trpc.auth.tokens.create.mutate({ name: 'short', role: 'viewer', expiresInDays: 1 });
    await stack.deps.db.execute(sql`update api_tokens set expires_at = now() - interval '1 second' where id = ${made.id}`);
    const err = await stack.trpcAs(made.token).auth.me.query().catch((e) => e);
    expect(err.data.httpStatus).toBe(401);
    expect(err.message).toContain('expired');
  });

  it('refuse unknown and malformed credentials without echoing them', async () => {
    for (const header of ['Bearer mc_nope-nope-nope-nope-nope-nope', 'Basic YWRtaW46YWRtaW4=', 'Bearer', 'Bearer eyJhbGciOiJub25lIn0.e30.']) {
      const res = await stack.rest('GET', '/api/workflows', undefined, { authorization: header });
      expect(res.status).toBe(401);
      expect(JSON.stringify(res.body)).not.toContain('nope-nope');
    }
  });
});

describe('rate limits', () => {
  it('gives a tenant bursting to 10x its limit 429s with Retry-After while another tenant is served', async () => {
    const limited = await startTestStack({ MC_RATE_LIMIT_PER_TENANT: '20', MC_RATE_LIMIT_PER_TOKEN: '1000' }, { worker: false });
    try {
      const noisy = await limited.tokenFor('viewer', 'noisy');
      const quiet = await limited.tokenFor('viewer', 'quiet');
      const statuses = await Promise.all(Array.from({ length: 200 }, () => limited.rest('GET', '/api/workflows', undefined, { authorization: `Bearer ${noisy}` })));
      const ok = statuses.filter((s) => s.status === 200).length;
      const refused = statuses.filter((s) => s.status === 429);
      expect(ok).toBe(20);
      expect(refused.length).toBe(180);
      expect(Number(refused[0]!.headers.get('retry-after'))).toBeGreaterThan(0);
      const other = await limited.rest('GET', '/api/workflows', undefined, { authorization: `Bearer ${quiet}` });
      expect(other.status).toBe(200);
    } finally {
      await limited.close();
    }
  });
});

describe('quotas', () => {
  it('bound executions in flight per tenant and per runner class, with 429 and Retry-After', async () => {
    // No worker: started executions stay in flight.
    const q = await startTestStack({ MC_QUOTA_CONCURRENT_EXECUTIONS: '3', MC_QUOTA_RUNNER_CLASS_CONCURRENCY: 'slow=1' }, { worker: false });
    try {
      const publish = async (name: string, runnerClass: string) => {
        const wf = await q.trpc.workflows.create.mutate({ name, version: '1.0.0', tasks: [{ id: 't', uses: 'pkg:demo/echo@1.0.0', runnerClass }] });
        await q.trpc.workflows.publish.mutate({ id: wf.id });
        return wf.id;
      };
      const slow = await publish('on-slow', 'slow');
      const fast = await publish('on-default', 'default');
      expect((await q.rest('POST', '/api/executions', { workflowId: slow })).status).toBe(201);
      const secondSlow = await q.rest('POST', '/api/executions', { workflowId: slow });
      expect(secondSlow.status).toBe(429);
      expect(secondSlow.body.error.message).toContain('runner class "slow"');
      expect(Number(secondSlow.headers.get('retry-after'))).toBeGreaterThan(0);
      expect((await q.rest('POST', '/api/executions', { workflowId: fast })).status).toBe(201);
      expect((await q.rest('POST', '/api/executions', { workflowId: fast })).status).toBe(201);
      const overTenant = await q.rest('POST', '/api/executions', { workflowId: fast });
      expect(overTenant.status).toBe(429);
      expect(overTenant.body.error.message).toContain('the limit is 3');
    } finally {
      await q.close();
    }
  });
});
