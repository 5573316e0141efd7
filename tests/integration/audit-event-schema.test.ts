import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { readFileSync } from 'node:fs';
import { asc, sql } from 'drizzle-orm';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { parse as parseYaml } from 'yaml';
import { appendAuditEvents, type AuditEventDraft } from '@mc/server/audit/audit-writer';
import { auditEvents } from '@mc/server/db/schema';
import { auditEventTypes, auditEventTypesV2 } from '@mc/shared/audit-event';
import { eventBus } from '@mc/shared/event-bus';
import { EventSchemaError } from '@mc/shared/event-schema';
import { startTestStack, type TestStack } from '../support/test-stack.ts';

// The spec's schema file itself, compiled here independently of the writer's validator.
const schema = JSON.parse(readFileSync(new URL('../../docs/audit/mc-events.v1.json', import.meta.url), 'utf8'));
const ajv = new Ajv2020({ allErrors: true, strict: true });
addFormats(ajv);
const validate = ajv.compile(schema);
// The versioned change: v1's shape with more types; events of the spec's five types stay v1's.
const schemaV2 = JSON.parse(readFileSync(new URL('../../docs/audit/mc-events.v2.json', import.meta.url), 'utf8'));
const validateV2 = ajv.compile(schemaV2);
const validatorFor = (type: string) => ((auditEventTypes as readonly string[]).includes(type) ? validate : validateV2);

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack.close();
});

const countEvents = async () => (await stack.deps.db.execute<{ n: number }>(sql`select count(*)::int as n from audit_events`))[0]!.n;

describe('mc.events.v1 (docs/audit/mc-events.v1.json)', () => {
  it('is the spec §4 schema, and the types the code knows are its enum', () => {
    expect(schema.$id).toBe('https://companyos/internal/mc/events.v1.json');
    expect(schema.required).toEqual(['id', 'ts', 'type', 'actor', 'subject', 'data']);
    expect(schema.properties.type.enum).toEqual([...auditEventTypes]);
    const topics = parseYaml(readFileSync(new URL('../../docs/audit/topics.yaml', import.meta.url), 'utf8'));
    expect({ bus: topics.bus, partitions: topics.partitions, retentionDays: topics.retentionDays }).toEqual({ bus: eventBus.name, partitions: eventBus.partitions, retentionDays: eventBus.retentionDays });
  });

  it('has a versioned successor, mc.events.v2: the same shape, v1’s types and more', () => {
    const { $id, title, description, properties, ...rest } = schemaV2;
    const { $id: _id, properties: v1Properties, ...v1Rest } = schema;
    expect($id).toBe('https://companyos/internal/mc/events.v2.json');
    expect(typeof title).toBe('string');
    expect(typeof description).toBe('string');
    expect(rest).toEqual(v1Rest);
    expect({ ...properties, type: undefined }).toEqual({ ...v1Properties, type: undefined });
    expect(properties.type.enum).toEqual([...auditEventTypes, ...auditEventTypesV2]);
  });

  it('every event written by a full execution and a denied one validates against it', async () => {
    const wf = await stack.trpc.workflows.create.mutate({ name: `sch-${crypto.randomUUID().slice(0, 8)}`, version: '1.0.0', tasks: [{ id: 't1', uses: 'pkg:demo/echo@1.0.0' }] });
    await stack.trpc.workflows.publish.mutate({ id: wf.id });
    const exec = await stack.trpc.executions.start.mutate({ workflowId: wf.id, inputs: { n: 1 } });
    await stack.trpc.receipts.get.query({ executionId: exec.id });
    const denied = await stack.rest('POST', '/api/executions', { workflowId: wf.id, region: 'eu' });
    expect(denied.status).toBe(403);

    const rows = await stack.deps.db.select().from(auditEvents).orderBy(asc(auditEvents.seq));
    const types = new Set(rows.map((r) => r.type));
    for (const t of ['mc.workflow.published', 'mc.execution.started', 'mc.execution.receipt.signed', 'mc.policy.decision']) expect(types).toContain(t);
    expect(rows.some((r) => r.type === 'mc.policy.decision' && (r.data as { allow: boolean }).allow === false)).toBe(true);
    for (const r of rows) {
      const event = { id: r.id, ts: r.ts.toISOString(), type: r.type, actor: r.actor, subject: r.subject, data: r.data };
      const check = validatorFor(r.type);
      if (!check(event)) throw new Error(`row ${r.seq} (${r.type}) does not validate: ${ajv.errorsText(check.errors)}`);
      expect(r.partition).toBeGreaterThanOrEqual(0);
      expect(r.partition).toBeLessThan(12);
    }
  });

  const tenantId = async () => (await stack.deps.db.execute<{ id: string }>(sql`select id from tenants limit 1`))[0]!.id;

  it('refuses an event of a type outside the schema, and writes nothing', async () => {
    const before = await countEvents();
    const draft = { tenantId: await tenantId(), type: 'mc.execution.deleted', actor: { sub: 'test' }, subject: { workflowId: crypto.randomUUID() }, data: {} } as unknown as AuditEventDraft;
    const valid: AuditEventDraft = { tenantId: draft.tenantId, type: 'mc.workflow.published', actor: { sub: 'test' }, subject: { workflowId: crypto.randomUUID() }, data: {} };
    // In one transaction with a valid event: the whole transaction fails, so the valid one is not written either.
    const attempt = stack.deps.db.transaction((tx) => appendAuditEvents(tx, [valid, draft]));
    await expect(attempt).rejects.toBeInstanceOf(EventSchemaError);
    await expect(stack.deps.db.transaction((tx) => appendAuditEvents(tx, [valid, draft]))).rejects.toThrow(/\/type must be equal to one of the allowed values/);
    expect(await countEvents()).toBe(before);
  });

  it('refuses an event whose parts have the wrong shape, and writes nothing', async () => {
    const before = await countEvents();
    const tid = await tenantId();
    const bad = [
      { tenantId: tid, type: 'mc.policy.decision', actor: { sub: 42 }, subject: {}, data: {} },
      { tenantId: tid, type: 'mc.policy.decision', actor: {}, subject: { executionId: 7 }, data: {} },
      { tenantId: tid, type: 'mc.policy.decision', actor: {}, subject: {}, data: ['not', 'an', 'object'] },
    ] as unknown as AuditEventDraft[];
    for (const d of bad) await expect(stack.deps.db.transaction((tx) => appendAuditEvents(tx, [d]))).rejects.toBeInstanceOf(EventSchemaError);
    expect(await countEvents()).toBe(before);
  });
});
