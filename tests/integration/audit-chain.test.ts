import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { join } from 'node:path';
import postgres from 'postgres';
import { sql as dsql } from 'drizzle-orm';
import { chainHash, verifyAuditChain } from '@mc/server/audit/audit-chain';
import { appendAuditEvents, type AuditEventDraft } from '@mc/server/audit/audit-writer';
import { paramsIn, writeAtCommit, type Queryable } from '@mc/server/db/client';
import { auditOutboxCursors, executionTransitions, tenantSpendMinutes } from '@mc/server/db/schema';
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

function draft(tenantId: string, name: string): AuditEventDraft {
  return { tenantId, type: 'mc.workflow.published', actor: { sub: `user:${name}` }, subject: { workflowId: crypto.randomUUID() }, data: { name, version: '1.0.0', manifestDigest: `sha256:${'0'.repeat(64)}` } };
}

async function tenantId(): Promise<string> {
  const [row] = await sql<{ id: string }[]>`select id from tenants limit 1`;
  return row!.id;
}

describe('audit chain writes (server/audit/audit-writer.ts)', () => {
  it('links non-ASCII content with the same bytes verification hashes (Postgres computes the hash, JS checks it)', async () => {
    const tenant = await tenantId();
    const names = ['café', 'naïve 😀', '東京', 'line\nbreak "quoted" \\ back'];
    await stack.deps.db.transaction(async (tx) => {
      await appendAuditEvents(tx, names.slice(0, 2).map((n) => draft(tenant, n)));
      await appendAuditEvents(tx, names.slice(2).map((n) => draft(tenant, n)));
    });
    const rows = await sql<{ prev_hash: string; hash: string; id: string; ts: Date; type: string; actor: unknown; subject: unknown; data: { name: string } }[]>`
      select prev_hash, hash, id, ts, type, actor, subject, data from audit_events order by seq desc limit 4`;
    rows.reverse();
    expect(rows.map((r) => r.data.name)).toEqual(names);
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      if (i > 0) expect(r.prev_hash).toBe(rows[i - 1]!.hash);
      expect(r.hash).toBe(chainHash(r.prev_hash, { id: r.id, ts: r.ts.toISOString(), type: r.type, actor: r.actor, subject: r.subject, data: r.data } as never));
    }
    expect(await verifyAuditChain(stack.deps.db)).toMatchObject({ ok: true });
  });

  it('takes the chain lock only at the end of the transaction, after its other statements', async () => {
    const tenant = await tenantId();
    let heldBeforeEnd = true;
    await stack.deps.db.transaction(async (tx) => {
      await appendAuditEvents(tx, [draft(tenant, 'deferred')]);
      const [held] = await tx.execute<{ n: number }>(dsql`select count(*)::int as n from pg_locks where locktype = 'advisory' and pid = pg_backend_pid()`);
      heldBeforeEnd = Number(held!.n) > 0;
    });
    expect(heldBeforeEnd).toBe(false);
    const [row] = await sql<{ n: number }[]>`select count(*)::int as n from audit_events where data->>'name' = 'deferred'`;
    expect(row!.n).toBe(1);
  });

  it('writes nothing for a transaction that rolls back, and keeps one order under concurrent appenders', async () => {
    const tenant = await tenantId();
    await expect(
      stack.deps.db.transaction(async (tx) => {
        await appendAuditEvents(tx, [draft(tenant, 'rolled-back')]);
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    await Promise.all(Array.from({ length: 40 }, (_, i) => stack.deps.db.transaction((tx) => appendAuditEvents(tx, [draft(tenant, `racer-${i}-a`), draft(tenant, `racer-${i}-b`)]))));
    const [gone] = await sql<{ n: number }[]>`select count(*)::int as n from audit_events where data->>'name' = 'rolled-back'`;
    expect(gone!.n).toBe(0);
    // Each transaction's two events are adjacent: the lock is held from its insert to its commit.
    const racers = await sql<{ name: string }[]>`select data->>'name' as name from audit_events where data->>'name' like 'racer-%' order by seq`;
    expect(racers).toHaveLength(80);
    for (let i = 0; i < racers.length; i += 2) expect(racers[i + 1]!.name).toBe(racers[i]!.name.replace(/-a$/, '-b'));
    expect(await verifyAuditChain(stack.deps.db)).toMatchObject({ ok: true, firstBreak: null });
  });
});

describe('statements deferred to commit (server/db/client.ts deferToCommit)', () => {
  it('rejects the transaction and commits nothing when the deferred audit insert fails, though Postgres answers that COMMIT without an error', async () => {
    const attempt = stack.deps.db.transaction(async (tx) => {
      await tx.execute(dsql`insert into audit_outbox_cursors (partition, last_seq) values (9999, 0)`);
      // No tenant (tenant_id is NOT NULL): Postgres refuses the deferred insert, after the callback has returned.
      await appendAuditEvents(tx, [draft(null as unknown as string, 'orphan')]);
      return 'callback finished';
    });
    await expect(attempt).rejects.toThrow();
    const [row] = await sql<{ n: number }[]>`select count(*)::int as n from audit_outbox_cursors where partition = 9999`;
    expect(row!.n).toBe(0);
    const [ev] = await sql<{ n: number }[]>`select count(*)::int as n from audit_events where data->>'name' = 'orphan'`;
    expect(ev!.n).toBe(0);
  });
});

describe('writes queued with writeAtCommit (server/db/client.ts)', () => {
  const cursor = (db: Queryable, partition: number) => db.insert(auditOutboxCursors).values({ partition, lastSeq: 0 });
  const spend = (db: Queryable, tenant: string, minute: Date, amountUsd: string) =>
    db
      .insert(tenantSpendMinutes)
      .values({ tenantId: tenant, minute, shard: 0, amountUsd })
      .onConflictDoUpdate({ target: [tenantSpendMinutes.tenantId, tenantSpendMinutes.minute, tenantSpendMinutes.shard], set: { amountUsd: dsql`${tenantSpendMinutes.amountUsd} + excluded.amount_usd` } });
  // Each test writes minutes of its own year, so the tests do not count each other's.
  const spent = async (tenant: string, year: number) =>
    (await sql<{ usd: string }[]>`select coalesce(sum(amount_usd), 0)::text as usd from tenant_spend_minutes where tenant_id = ${tenant} and extract(year from minute at time zone 'UTC') = ${year}`)[0]!.usd;

  it('are sent with the COMMIT (writes to different tables as one statement): not there before it, there after it, with the audit event', async () => {
    const tenant = await tenantId();
    const minute = new Date(Date.UTC(2031, 0, 1));
    let seenInside = -1;
    await stack.deps.db.transaction(async (tx) => {
      await appendAuditEvents(tx, [draft(tenant, 'with-writes')]);
      await writeAtCommit(tx, auditOutboxCursors, cursor(tx, 9001));
      await writeAtCommit(tx, tenantSpendMinutes, spend(tx, tenant, minute, '1.5'));
      const [row] = await tx.execute<{ n: number }>(dsql`select count(*)::int as n from audit_outbox_cursors where partition = 9001`);
      seenInside = Number(row!.n);
    });
    expect(seenInside).toBe(0);
    const [row] = await sql<{ n: number }[]>`select count(*)::int as n from audit_outbox_cursors where partition = 9001`;
    expect(row!.n).toBe(1);
    expect(await spent(tenant, 2031)).toBe('1.5000');
    const [ev] = await sql<{ n: number }[]>`select count(*)::int as n from audit_events where data->>'name' = 'with-writes'`;
    expect(ev!.n).toBe(1);
    await sql`delete from audit_outbox_cursors where partition = 9001`;
  });

  it('apply each write when two change one row (sent apart: one statement may not change a row twice)', async () => {
    const tenant = await tenantId();
    const minute = new Date(Date.UTC(2032, 0, 1));
    await stack.deps.db.transaction(async (tx) => {
      await writeAtCommit(tx, tenantSpendMinutes, spend(tx, tenant, minute, '2'));
      await writeAtCommit(tx, tenantSpendMinutes, spend(tx, tenant, minute, '3'));
      await writeAtCommit(tx, auditOutboxCursors, cursor(tx, 9006));
    });
    expect(await spent(tenant, 2032)).toBe('5.0000');
    await sql`delete from audit_outbox_cursors where partition = 9006`;
  });

  it('land too when together they have more parameters than a named statement may', async () => {
    const tenant = await tenantId();
    const minutes = Array.from({ length: 40 }, (_, i) => new Date(Date.UTC(2033, 0, 1, 0, i)));
    await stack.deps.db.transaction(async (tx) => {
      await writeAtCommit(tx, auditOutboxCursors, cursor(tx, 9007));
      await writeAtCommit(tx, tenantSpendMinutes, tx.insert(tenantSpendMinutes).values(minutes.map((minute) => ({ tenantId: tenant, minute, shard: 1, amountUsd: '1' }))));
    });
    expect(await spent(tenant, 2033)).toBe('40.0000');
    const [row] = await sql<{ n: number }[]>`select count(*)::int as n from audit_outbox_cursors where partition = 9007`;
    expect(row!.n).toBe(1);
    await sql`delete from audit_outbox_cursors where partition = 9007`;
  });

  it('reject the transaction when one fails, and commit nothing of it', async () => {
    const tenant = await tenantId();
    const minute = new Date(Date.UTC(2034, 0, 1));
    const attempt = stack.deps.db.transaction(async (tx) => {
      await tx.execute(dsql`insert into audit_outbox_cursors (partition, last_seq) values (9003, 0)`);
      await appendAuditEvents(tx, [draft(tenant, 'failed-write')]);
      await writeAtCommit(tx, tenantSpendMinutes, spend(tx, tenant, minute, '4'));
      // A key that exists (inserted above): this write fails after the callback has returned.
      await writeAtCommit(tx, auditOutboxCursors, cursor(tx, 9003));
    });
    await expect(attempt).rejects.toThrow();
    const [row] = await sql<{ n: number }[]>`select count(*)::int as n from audit_outbox_cursors where partition = 9003`;
    expect(row!.n).toBe(0);
    expect(await spent(tenant, 2034)).toBe('0');
    const [ev] = await sql<{ n: number }[]>`select count(*)::int as n from audit_events where data->>'name' = 'failed-write'`;
    expect(ev!.n).toBe(0);
  });

  it("count a statement's parameters as drizzle renders them (which decides whether they are merged)", () => {
    const db = stack.deps.db;
    const minute = new Date(Date.UTC(2035, 0, 1));
    const builders = [
      cursor(db, 1),
      spend(db, crypto.randomUUID(), minute, '1'),
      db.insert(tenantSpendMinutes).values(Array.from({ length: 7 }, (_, i) => ({ tenantId: crypto.randomUUID(), minute, shard: i, amountUsd: String(i) }))),
      db.insert(executionTransitions).values({ tenantId: crypto.randomUUID(), type: 'mc.execution.finished', executionId: crypto.randomUUID(), fromStatus: 'running', toStatus: 'receipt_pending', actorSub: 'x', data: { a: [1, { b: null }] } }),
      db.update(auditOutboxCursors).set({ lastSeq: 3, publishedAt: null }).where(dsql`${auditOutboxCursors.partition} in (${1}, ${2}) and ${auditOutboxCursors.lastSeq} > ${0}`),
    ];
    for (const b of builders) expect(paramsIn(b.getSQL())).toBe(b.toSQL().params.length);
  });

  it('run at once on the pool', async () => {
    await writeAtCommit(stack.deps.db, auditOutboxCursors, cursor(stack.deps.db, 9005));
    const [row] = await sql<{ n: number }[]>`select count(*)::int as n from audit_outbox_cursors where partition = 9005`;
    expect(row!.n).toBe(1);
    await sql`delete from audit_outbox_cursors where partition = 9005`;
  });
});

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
