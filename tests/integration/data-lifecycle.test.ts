import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { and, eq, sql } from 'drizzle-orm';
import { dataErasures, executionDataKeys, executionLogs, executions, executionSignals, executionTransitions, receipts, retentionRuns, taskResults } from '@mc/server/db/schema';
import { appendLogs, findExecution, findSignal, findTaskResult } from '@mc/server/executions/repository';
import { purgeExpiredLogs } from '@mc/server/retention/retention-service';
import { digestOf } from '@mc/shared/canonical-json';
import { verifyDisclosurePack } from '@mc/shared/disclosure-verification';
import { eventually, startTestStack, type TestStack } from '../support/test-stack.ts';

/**
 * Data lifecycle (spec §3; docs/data/MC_DATA_LIFECYCLE.md): payloads encrypted at rest and
 * classified at ingest, cryptographic erase, large payloads in the object store, TTL jobs.
 */
let stack: TestStack;
beforeAll(async () => {
  // Inputs up to 3 MB so a 2 MB payload can be sent; TTL jobs every second.
  stack = await startTestStack({ MC_MAX_INPUT_BYTES: String(3 * 1024 * 1024), MC_RETENTION_INTERVAL_MS: '1000' });
});
afterAll(async () => {
  await stack.close();
});

async function run(tasks: unknown[], inputs: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
  const wf = await stack.trpc.workflows.create.mutate({ name: `life-${crypto.randomUUID().slice(0, 8)}`, version: '1.0.0', tasks, ...extra } as never);
  await stack.trpc.workflows.publish.mutate({ id: wf.id });
  const exec = await stack.trpc.executions.start.mutate({ workflowId: wf.id, inputs });
  const receipt = await stack.trpc.receipts.get.query({ executionId: exec.id });
  return { exec: await stack.trpc.executions.get.query({ id: exec.id }), receipt };
}

const echo = (w: Record<string, unknown>) => [{ id: 'echo', uses: 'pkg:demo/echo@1.0.0', with: w }];

describe('payloads at rest', () => {
  it('stores inputs and outputs encrypted, with digests over the plaintext, and records the inputs’ class', async () => {
    const { exec } = await run(echo({ word: '${{ inputs.word }}' }), { word: 'plaintext-marker-123' });
    expect(exec.status).toBe('succeeded');
    const [row] = await stack.deps.db.select().from(executions).where(eq(executions.id, exec.id));
    const [result] = await stack.deps.db.select().from(taskResults).where(eq(taskResults.executionId, exec.id));
    expect(JSON.stringify([row!.inputs, result!.output])).not.toContain('plaintext-marker-123');
    expect(row!.inputsDigest).toBe(digestOf({ word: 'plaintext-marker-123' }));
    expect(result!.outputDigest).toBe(digestOf({ word: 'plaintext-marker-123' }));
    expect(row!.inputsClass).toBe('sensitive');
    // The API and the engine see plaintext.
    expect(exec.inputs).toEqual({ word: 'plaintext-marker-123' });
  });

  it('classifies PII inputs of a regulated workflow as regulated', async () => {
    const { exec } = await run(echo({ n: 1 }), { contact: 'jane.doe@example.com' }, { dataClassification: 'regulated' });
    const [row] = await stack.deps.db.select({ inputsClass: executions.inputsClass }).from(executions).where(eq(executions.id, exec.id));
    expect(row!.inputsClass).toBe('regulated');
  });
});

describe('executions.erase', () => {
  it('makes inputs and outputs unreadable, even to an admin, while receipt and disclosure pack still verify', async () => {
    const { exec, receipt } = await run(echo({ word: '${{ inputs.word }}' }), { word: 'erase-me' });
    const res = await stack.rest('POST', `/api/executions/${exec.id}/erase`, { reason: 'DSR-42' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ executionId: exec.id, alreadyErased: false });

    const after = await stack.trpc.executions.get.query({ id: exec.id });
    expect(after.inputs).toEqual({ erased: true });
    expect((await findExecution(stack.deps.db, exec.id))!.inputs).toEqual({ erased: true });
    const [stored] = await stack.deps.db.select().from(taskResults).where(eq(taskResults.executionId, exec.id));
    expect((await findTaskResult(stack.deps.db, stored!.idempotencyKey))!.output).toEqual({ erased: true });
    const [key] = await stack.deps.db.select().from(executionDataKeys).where(eq(executionDataKeys.executionId, exec.id));
    expect(key!.wrappedKey).toBeNull();
    const [trail] = await stack.deps.db.select().from(dataErasures).where(eq(dataErasures.executionId, exec.id));
    expect(trail).toMatchObject({ reason: 'DSR-42', actorSub: expect.any(String) });

    // Digests only: the receipt and the pack are untouched by the erase.
    expect((await stack.trpc.receipts.verify.mutate({ executionId: exec.id })).verified).toBe(true);
    expect((receipt.receipt as { predicate: { inputsDigest: string } }).predicate.inputsDigest).toBe(after.inputsDigest);
    const keys = (await stack.rest('GET', '/api/keys')).body.keys;
    const pack = await stack.app.handle(new Request(`http://mc.test/api/executions/${exec.id}/disclosure.tgz`, { headers: { authorization: `Bearer ${stack.adminToken}` } }));
    const verified = await verifyDisclosurePack(new Uint8Array(await pack.arrayBuffer()), keys);
    expect(verified.ok).toBe(true);

    // Idempotent, and on the audit trail once.
    const again = await stack.trpc.executions.erase.mutate({ id: exec.id });
    expect(again.alreadyErased).toBe(true);
    const events = await stack.trpc.audit.list.query({ executionId: exec.id, type: 'mc.execution.erased' });
    expect(events.items).toHaveLength(1);
  });

  it('leaves nothing to rerun from: an erased execution cannot be rerun', async () => {
    const { exec } = await run([{ id: 'f', uses: 'pkg:mc/fail@1.0.0', with: { times: 1 } }]);
    expect(exec.status).toBe('failed');
    await stack.trpc.executions.erase.mutate({ id: exec.id });
    const err = await stack.trpc.executions.rerun.mutate({ id: exec.id }).catch((e) => e);
    expect(err.data.httpStatus).toBe(409);
    expect(err.message).toContain('erased');
  });

  it('is for admins only', async () => {
    const { exec } = await run(echo({ n: 1 }));
    const operator = await stack.tokenFor('operator');
    const res = await stack.rest('POST', `/api/executions/${exec.id}/erase`, {}, { authorization: `Bearer ${operator}` });
    expect(res.status).toBe(403);
    expect((await stack.trpc.executions.get.query({ id: exec.id })).inputs).toEqual({});
  });

  it('refuses an execution that has not finished', async () => {
    const wf = await stack.trpc.workflows.create.mutate({ name: `life-slow-${crypto.randomUUID().slice(0, 8)}`, version: '1.0.0', tasks: [{ id: 's', uses: 'pkg:mc/sleep@1.0.0', with: { ms: 1500 } }] });
    await stack.trpc.workflows.publish.mutate({ id: wf.id });
    const exec = await stack.trpc.executions.start.mutate({ workflowId: wf.id });
    const res = await stack.rest('POST', `/api/executions/${exec.id}/erase`, {});
    expect(res.status).toBe(409);
    await stack.trpc.receipts.get.query({ executionId: exec.id });
  });
});

describe('signal payloads', () => {
  it('are stored sealed, reach the waiting task as plaintext, stay out of the transition and audit data, and are erased with the execution', async () => {
    const payload = { card: 'signal-marker-4711', amount: 7 };
    const wf = await stack.trpc.workflows.create.mutate({
      name: `life-signal-${crypto.randomUUID().slice(0, 8)}`,
      version: '1.0.0',
      tasks: [
        { id: 'paid', uses: 'pkg:mc/wait-for-event@1.0.0', with: { event: 'payment', key: 'o-1', timeoutMs: 120_000 } },
        { id: 'ship', uses: 'pkg:demo/echo@1.0.0', needs: ['paid'], with: { card: '${{ tasks.paid.output.payload.card }}' } },
      ],
    } as never);
    await stack.trpc.workflows.publish.mutate({ id: wf.id });
    const exec = await stack.trpc.executions.start.mutate({ workflowId: wf.id, inputs: {} });
    await eventually(async () => (await stack.trpc.executions.get.query({ id: exec.id })).steps.find((s) => s.taskId === 'paid')?.status === 'waiting', { what: 'paid to be waiting' });
    // One without a payload (no waiting step matches it), then the one the step waits for.
    await stack.trpc.executions.signal.mutate({ id: exec.id, event: 'noise', key: '' });
    const sent = await stack.rest('POST', `/api/executions/${exec.id}/signal`, { event: 'payment', key: 'o-1', payload });
    expect(sent.status).toBe(200);
    await stack.trpc.receipts.get.query({ executionId: exec.id });
    const done = await stack.trpc.executions.get.query({ id: exec.id });
    expect(done.status).toBe('succeeded');

    // In the row: the envelope, not the plaintext; no payload stays null.
    const rows = await stack.deps.db.execute<{ event: string; payload: unknown }>(sql`select event, payload from execution_signals where execution_id = ${exec.id} order by event`);
    const byEvent = Object.fromEntries([...rows].map((r) => [r.event, r.payload]));
    expect(byEvent.noise).toBeNull();
    expect(byEvent.payment).toMatchObject({ $mcSealed: 'v1', alg: 'A256GCM', digest: digestOf(payload) });
    expect(JSON.stringify(byEvent.payment)).not.toContain('signal-marker-4711');

    // The waiting task got the plaintext, and passed it on.
    const results = await stack.deps.db.select().from(taskResults).where(eq(taskResults.executionId, exec.id));
    const outputs = Object.fromEntries(await Promise.all(results.map(async (r) => [r.taskId, (await findTaskResult(stack.deps.db, r.idempotencyKey))!.output] as const)));
    expect(outputs.paid).toMatchObject({ event: 'payment', key: 'o-1', payload });
    expect(outputs.ship).toEqual({ card: 'signal-marker-4711' });
    expect((await findSignal(stack.deps.db, exec.id, 'payment', 'o-1'))!.payload).toEqual(payload);

    // The transition and the audit event carry its digest only.
    const transitions = await stack.deps.db.select().from(executionTransitions).where(and(eq(executionTransitions.executionId, exec.id), eq(executionTransitions.type, 'mc.execution.signal.received')));
    expect(transitions).toHaveLength(2);
    expect(JSON.stringify(transitions)).not.toContain('signal-marker-4711');
    expect(transitions.map((t) => (t.data as { payloadDigest: string }).payloadDigest).sort()).toEqual([digestOf(null), digestOf(payload)].sort());
    const events = await stack.trpc.audit.list.query({ executionId: exec.id, type: 'mc.execution.signal.received' });
    expect(events.items).toHaveLength(2);
    expect(JSON.stringify(events.items)).not.toContain('signal-marker-4711');

    // Erased with the execution: the stored signal reads as erased, the row is unchanged.
    await stack.trpc.executions.erase.mutate({ id: exec.id });
    expect((await findSignal(stack.deps.db, exec.id, 'payment', 'o-1'))!.payload).toEqual({ erased: true });
    expect((await findSignal(stack.deps.db, exec.id, 'noise', ''))!.payload).toBeNull();
    const [after] = await stack.deps.db.select({ payload: executionSignals.payload }).from(executionSignals).where(and(eq(executionSignals.executionId, exec.id), eq(executionSignals.event, 'payment')));
    expect(after!.payload).toEqual(byEvent.payment);
  });
});

describe('large payloads', () => {
  it('keeps a 2 MB output in the region’s payload bucket, encrypted — not inline in Postgres, not in Redis — and its digest in the receipt', async () => {
    // The PDP takes at most 2 MiB of input (server/policy/input-guard.ts): a 1.05 MiB input, echoed twice, makes the 2 MB output.
    const big = 'x'.repeat(1.05 * 1024 * 1024);
    const output = { a: big, b: big };
    const { exec, receipt } = await run(echo({ a: '${{ inputs.blob }}', b: '${{ inputs.blob }}' }), { blob: big });
    expect(exec.status).toBe('succeeded');

    const [sizes] = await stack.deps.db.execute<{ inputs: number; output: number }>(
      sql`select pg_column_size(e.inputs) as inputs, pg_column_size(r.output) as output from ${executions} e join ${taskResults} r on r.execution_id = e.id where e.id = ${exec.id}`,
    );
    expect(Number(sizes!.inputs)).toBeLessThan(2048);
    expect(Number(sizes!.output)).toBeLessThan(2048);

    const dir = join(stack.config.OBJECT_STORE_DIR, 'mc-us-payloads', 'payloads', exec.id);
    expect(existsSync(dir)).toBe(true);
    const objects = readdirSync(dir).filter((f) => !f.startsWith('.'));
    // The inputs and the output, each sealed.
    expect(objects.length).toBe(2);
    expect(Math.max(...objects.map((f) => statSync(join(dir, f)).size))).toBeGreaterThan(2 * 1024 * 1024);
    for (const f of objects) expect((await Bun.file(join(dir, f)).text()).includes('xxxxxxxxxxxxxxxx')).toBe(false);

    // Nothing in Redis holds the payload: every key of this stack's queues is small.
    const keys = await stack.deps.redis.keys(`${stack.config.MC_QUEUE_PREFIX}:*`);
    const usage = await Promise.all(keys.map(async (k) => Number((await stack.deps.redis.call('MEMORY', 'USAGE', k)) ?? 0)));
    expect(Math.max(0, ...usage)).toBeLessThan(64 * 1024);

    const statement = receipt.receipt as { predicate: { inputsDigest: string; steps: { outputDigest: string | null }[] } };
    expect(statement.predicate.inputsDigest).toBe(digestOf({ blob: big }));
    expect(statement.predicate.steps[0]!.outputDigest).toBe(digestOf(output));
    // Read back through the engine's path.
    const [stored] = await stack.deps.db.select().from(taskResults).where(eq(taskResults.executionId, exec.id));
    expect((await findTaskResult(stack.deps.db, stored!.idempotencyKey))!.output).toEqual(output);
  });
});

describe('retention', () => {
  it('deletes expired step logs in the scheduled TTL job, records the batch, and leaves receipts alone', async () => {
    const { exec } = await run(echo({ n: 1 }));
    const old = new Date(Date.now() - (stack.config.MC_LOG_RETENTION_DAYS + 1) * 86_400_000);
    await appendLogs(stack.deps.db, [
      { tenantId: (await findExecution(stack.deps.db, exec.id))!.tenantId, executionId: exec.id, taskId: 'echo', attempt: 1, level: 'info', message: 'old line', ts: old },
      { tenantId: (await findExecution(stack.deps.db, exec.id))!.tenantId, executionId: exec.id, taskId: 'echo', attempt: 1, level: 'info', message: 'fresh line' },
    ]);
    // The worker's job scheduler (MC_RETENTION_INTERVAL_MS=1000 here) deletes the old line.
    await eventually(async () => {
      const left = await stack.deps.db.select({ message: executionLogs.message }).from(executionLogs).where(eq(executionLogs.executionId, exec.id));
      return !left.some((l) => l.message === 'old line');
    }, { what: 'the TTL job to delete the expired log line' });
    const left = await stack.deps.db.select({ message: executionLogs.message }).from(executionLogs).where(eq(executionLogs.executionId, exec.id));
    expect(left.map((l) => l.message)).toContain('fresh line');
    const runs = await stack.deps.db.select().from(retentionRuns).where(and(eq(retentionRuns.kind, 'step_logs'), sql`${retentionRuns.deleted} > 0`));
    expect(runs.length).toBeGreaterThanOrEqual(1);
    expect(runs[0]!.retentionDays).toBe(stack.config.MC_LOG_RETENTION_DAYS);
    // Each batch is an audit event too (mc.events.v2), under the platform's default tenant.
    const purged = await stack.trpc.audit.list.query({ type: 'mc.data.retention.purged', limit: 500 });
    expect(purged.items.some((e) => (e.data as { runId: string; deleted: number }).runId === runs[0]!.runId && (e.data as { deleted: number }).deleted > 0)).toBe(true);

    // Receipts are not touched, and still verify.
    const [receiptRow] = await stack.deps.db.select().from(receipts).where(eq(receipts.executionId, exec.id));
    expect(receiptRow).toBeDefined();
    expect(await stack.deps.objectStore.getObject(receiptRow!.bucket, receiptRow!.objectKey)).not.toBeNull();
    expect((await stack.trpc.receipts.verify.mutate({ executionId: exec.id })).verified).toBe(true);
  });

  it('records a run that found nothing to delete', async () => {
    const outcome = await purgeExpiredLogs(stack.deps, new Date(Date.now() - 1000 * 86_400_000));
    expect(outcome.deleted).toBe(0);
    const [row] = await stack.deps.db.select().from(retentionRuns).where(eq(retentionRuns.runId, outcome.runId));
    expect(row).toMatchObject({ deleted: 0, batch: 0 });
  });

  it('refuses to delete a receipt before its retention ends (filesystem store)', async () => {
    const { exec } = await run(echo({ n: 2 }));
    const [row] = await stack.deps.db.select().from(receipts).where(eq(receipts.executionId, exec.id));
    expect(stack.deps.objectStore.kind).toBe('fs');
    await expect(stack.deps.objectStore.deleteObject(row!.bucket, row!.objectKey)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(await stack.deps.objectStore.getObject(row!.bucket, row!.objectKey)).not.toBeNull();
  });
});
