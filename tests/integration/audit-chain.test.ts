import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { join } from 'node:path';
import postgres from 'postgres';
import { verifyAuditChain } from '@mc/server/audit/audit-chain';
import { startTestStack, type TestStack } from '../support/test-stack.ts';

/**
 * The audit trail is append-only by trigger; the hash chain catches what goes around the trigger.
 * Here a superuser does exactly that (disables the trigger, deletes or edits a row, re-enables
 * it), and both the chain check and `mc audit verify` must name the row where the chain breaks.
 */

let stack: TestStack;
let sql: postgres.Sql;
let server: string;

beforeAll(async () => {
  stack = await startTestStack({}, { worker: false });
  sql = postgres(stack.env.DATABASE_URL!, { max: 1, onnotice: () => {} });
  stack.app.listen({ hostname: '127.0.0.1', port: 0 });
  server = `http://127.0.0.1:${stack.app.server?.port}`;
});

afterAll(async () => {
  await sql.end();
  await stack.app.stop();
  await stack.close();
});

async function addEvents(prefix: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const wf = await stack.trpc.workflows.create.mutate({ name: `${prefix}-${i}`, version: '1.0.0', tasks: [{ id: 't1', uses: 'pkg:demo/echo@1.0.0' }] });
    await stack.trpc.workflows.publish.mutate({ id: wf.id });
  }
}

/** Runs `fn` with the append-only trigger off, as a superuser could. */
async function aroundTheTrigger(fn: () => Promise<unknown>): Promise<void> {
  await sql`alter table audit_events disable trigger audit_events_no_update_delete`;
  try {
    await fn();
  } finally {
    await sql`alter table audit_events enable trigger audit_events_no_update_delete`;
  }
}

async function mcAuditVerify(): Promise<{ code: number; stdout: string }> {
  const proc = Bun.spawn(['bun', join(import.meta.dir, '..', '..', 'cli', 'main.ts'), 'audit', 'verify', '--server', server], {
    env: { PATH: process.env.PATH ?? '', HOME: '/nonexistent', MC_CONFIG_DIR: '/nonexistent/mc', NO_COLOR: '1', MC_TOKEN: stack.adminToken },
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const [stdout, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
  return { code, stdout };
}

async function seqs(): Promise<number[]> {
  return (await sql<{ seq: string }[]>`select seq from audit_events order by seq`).map((r) => Number(r.seq));
}

describe('audit chain', () => {
  it('refuses UPDATE and DELETE while the trigger is on', async () => {
    await addEvents('guard', 1);
    await expect(sql`delete from audit_events`).rejects.toThrow(/append-only/);
    await expect(sql`update audit_events set type = 'x'`).rejects.toThrow(/append-only/);
  });

  it('is intact after normal use', async () => {
    await addEvents('intact', 3);
    expect(await verifyAuditChain(stack.deps.db)).toMatchObject({ ok: true, firstBreak: null });
    const cli = await mcAuditVerify();
    expect(cli.code).toBe(0);
    expect(cli.stdout).toContain('audit chain intact');
  });

  it('names the row after a deleted one', async () => {
    await addEvents('del', 2);
    const all = await seqs();
    const victim = all[all.length - 3]!;
    const next = all[all.length - 2]!;
    await aroundTheTrigger(() => sql`delete from audit_events where seq = ${victim}`);
    const r = await verifyAuditChain(stack.deps.db);
    expect(r.ok).toBe(false);
    expect(r.firstBreak?.seq).toBe(next);
    expect(r.firstBreak?.reason).toContain('deleted');
    const cli = await mcAuditVerify();
    expect(cli.code).toBe(1);
    expect(cli.stdout).toContain(`audit chain BROKEN at seq ${next}`);
    // Put the chain back the only honest way for the next case: start from a fresh table.
    await aroundTheTrigger(() => sql`delete from audit_events`);
  });

  it('names an edited row by its seq', async () => {
    await addEvents('edit', 3);
    const all = await seqs();
    const victim = all[1]!;
    await aroundTheTrigger(() => sql`update audit_events set data = data || '{"rollback": true}'::jsonb where seq = ${victim}`);
    const r = await verifyAuditChain(stack.deps.db);
    expect(r).toMatchObject({ ok: false, checked: 1, firstBreak: { seq: victim } });
    expect(r.firstBreak?.reason).toContain('edited');
    const cli = await mcAuditVerify();
    expect(cli.code).toBe(1);
    expect(cli.stdout).toContain(`audit chain BROKEN at seq ${victim}`);
    const rest = await stack.rest('POST', '/api/audit/verify');
    expect(rest.body).toMatchObject({ ok: false, firstBreak: { seq: victim } });
  });
});
