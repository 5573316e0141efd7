import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  check,
  index,
  integer,
  jsonb,
  numeric,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

/**
 * The single truth of MC's database. Migrations in `drizzle/` are generated from this file by
 * drizzle-kit (`bun run db:generate`); spec §6 is the starting point, extended with what
 * execution needs. Postgres is the source of truth for every execution's state; Redis only
 * carries the work.
 */

const timestamps = {
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
};

/** A tenant owns workflows, executions and everything they produce; every such row carries `tenant_id`. */
export const tenants = pgTable('tenants', {
  id: uuid('id').primaryKey().defaultRandom(),
  name: text('name').notNull().unique(),
  ...timestamps,
  /** A deleted tenant's tokens stop working at once; its data stays for retention. */
  deletedAt: timestamp('deleted_at', { withTimezone: true }),
});

export const apiTokens = pgTable(
  'api_tokens',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id),
    name: text('name').notNull(),
    role: text('role', { enum: ['admin', 'operator', 'composer', 'viewer'] }).notNull(),
    /** sha256 of the token: the token itself is shown once and never stored. */
    tokenHash: text('token_hash').notNull().unique(),
    /** The first characters, so a person can tell tokens apart in a list. */
    tokenPrefix: text('token_prefix').notNull(),
    createdBy: text('created_by').notNull(),
    ...timestamps,
    expiresAt: timestamp('expires_at', { withTimezone: true }),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true }),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
  },
  (t) => [index('api_tokens_tenant_idx').on(t.tenantId, t.createdAt)],
);

const tenantId = () =>
  uuid('tenant_id')
    .notNull()
    .references(() => tenants.id);

export const workflowStatuses = ['draft', 'published'] as const;

export const workflows = pgTable(
  'workflows',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: tenantId(),
    name: text('name').notNull(),
    version: text('version').notNull(),
    manifest: jsonb('manifest').notNull(),
    manifestDigest: text('manifest_digest').notNull(),
    region: text('region').notNull(),
    status: text('status', { enum: workflowStatuses }).notNull().default('draft'),
    createdBy: text('created_by').notNull(),
    ...timestamps,
    publishedAt: timestamp('published_at', { withTimezone: true }),
    publishedBy: text('published_by'),
  },
  (t) => [
    uniqueIndex('workflows_tenant_name_version_key').on(t.tenantId, t.name, t.version),
    index('workflows_created_at_idx').on(t.tenantId, t.createdAt, t.id),
    check('workflows_status_check', sql`${t.status} in ('draft','published')`),
    check('workflows_published_check', sql`(${t.status} = 'published') = (${t.publishedAt} is not null)`),
  ],
);

export const executionStatuses = ['pending', 'running', 'succeeded', 'failed', 'rolled_back'] as const;
export const terminalExecutionStatuses = ['succeeded', 'failed', 'rolled_back'] as const;

export const executions = pgTable(
  'executions',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: tenantId(),
    workflowId: uuid('workflow_id')
      .notNull()
      .references(() => workflows.id),
    status: text('status', { enum: executionStatuses }).notNull().default('pending'),
    region: text('region').notNull(),
    actorSub: text('actor_sub').notNull(),
    /** Caller-supplied key: a second start with it returns this execution instead of a new one. */
    idempotencyKey: text('idempotency_key'),
    inputs: jsonb('inputs').notNull().default({}),
    inputsDigest: text('inputs_digest').notNull(),
    outputsDigest: text('outputs_digest'),
    rollout: text('rollout'),
    traceId: text('trace_id'),
    error: text('error'),
    ...timestamps,
    startedAt: timestamp('started_at', { withTimezone: true }),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
    costUsd: numeric('cost_usd', { precision: 12, scale: 4 }).notNull().default('0'),
    /** What the budget pack was told this run would cost; counts against the window until the run finishes. */
    costEstimateUsd: numeric('cost_estimate_usd', { precision: 12, scale: 4 }).notNull().default('0'),
    /** Steps not yet terminal; the execution finishes when this reaches 0 (saves a count per completion). */
    openSteps: integer('open_steps').notNull(),
  },
  (t) => [
    check('executions_status_check', sql`${t.status} in ('pending','running','succeeded','failed','rolled_back')`),
    index('executions_status_idx').on(t.status),
    index('executions_workflow_idx').on(t.workflowId, t.createdAt),
    index('executions_created_at_idx').on(t.tenantId, t.createdAt, t.id),
    uniqueIndex('executions_tenant_idempotency_key_key').on(t.tenantId, t.idempotencyKey),
  ],
);

export const stepStatuses = ['pending', 'queued', 'running', 'succeeded', 'failed', 'skipped'] as const;

export const executionSteps = pgTable(
  'execution_steps',
  {
    executionId: uuid('execution_id')
      .notNull()
      .references(() => executions.id),
    tenantId: tenantId(),
    taskId: text('task_id').notNull(),
    uses: text('uses').notNull(),
    runnerClass: text('runner_class').notNull(),
    status: text('status', { enum: stepStatuses }).notNull(),
    /** Needs not yet succeeded; the step is enqueued when this reaches 0. */
    remainingNeeds: integer('remaining_needs').notNull(),
    /** Times the task body was started (a re-delivery after a crash counts). */
    attempts: integer('attempts').notNull().default(0),
    idempotencyKey: text('idempotency_key'),
    outputDigest: text('output_digest'),
    error: text('error'),
    costUsd: numeric('cost_usd', { precision: 12, scale: 4 }).notNull().default('0'),
    startedAt: timestamp('started_at', { withTimezone: true }),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
    durationMs: integer('duration_ms'),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.executionId, t.taskId] }),
    check('execution_steps_status_check', sql`${t.status} in ('pending','queued','running','succeeded','failed','skipped')`),
    index('execution_steps_status_idx').on(t.status, t.updatedAt),
  ],
);

/** Spec §11's idempotency store: a task's stored result, returned instead of acting twice. */
export const taskResults = pgTable('task_results', {
  idempotencyKey: text('idempotency_key').primaryKey(),
  tenantId: tenantId(),
  executionId: uuid('execution_id').notNull(),
  taskId: text('task_id').notNull(),
  output: jsonb('output').notNull(),
  outputDigest: text('output_digest').notNull(),
  ...timestamps,
});

/** Step logs, redacted before they are written; served as NDJSON. */
export const executionLogs = pgTable(
  'execution_logs',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    tenantId: tenantId(),
    executionId: uuid('execution_id').notNull(),
    taskId: text('task_id'),
    attempt: integer('attempt'),
    ts: timestamp('ts', { withTimezone: true }).notNull().defaultNow(),
    level: text('level').notNull(),
    message: text('message').notNull(),
    data: jsonb('data'),
  },
  (t) => [index('execution_logs_execution_idx').on(t.executionId, t.id)],
);

export const receipts = pgTable(
  'receipts',
  {
    executionId: uuid('execution_id')
      .primaryKey()
      .references(() => executions.id),
    tenantId: tenantId(),
    receiptJson: jsonb('receipt_json').notNull(),
    digest: text('digest').notNull(),
    signature: text('signature').notNull(),
    keyId: text('key_id').notNull(),
    storedUri: text('stored_uri').notNull(),
    bucket: text('bucket').notNull(),
    objectKey: text('object_key').notNull(),
    verified: boolean('verified').notNull().default(false),
    ...timestamps,
  },
  (t) => [index('receipts_verified_idx').on(t.verified)],
);

/**
 * Append-only audit trail (spec §4 event shape). A trigger in the custom migration refuses
 * UPDATE and DELETE, so rows can only be added; each row carries the hash of its predecessor
 * (one global chain, see `server/audit/audit-chain.ts`), so an edit or deletion made around the
 * trigger (by a superuser, on a restored backup) is detected by `mc audit verify`.
 */
export const auditEvents = pgTable(
  'audit_events',
  {
    seq: bigint('seq', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    id: uuid('id').notNull().unique(),
    tenantId: tenantId(),
    ts: timestamp('ts', { withTimezone: true }).notNull().defaultNow(),
    type: text('type').notNull(),
    actor: jsonb('actor').notNull(),
    subject: jsonb('subject').notNull(),
    data: jsonb('data').notNull(),
    workflowId: uuid('workflow_id'),
    executionId: uuid('execution_id'),
    prevHash: text('prev_hash').notNull(),
    hash: text('hash').notNull(),
  },
  (t) => [
    index('audit_events_tenant_idx').on(t.tenantId, t.seq),
    index('audit_events_workflow_idx').on(t.workflowId, t.seq),
    index('audit_events_execution_idx').on(t.executionId, t.seq),
  ],
);

/** Every policy decision, allow or deny, at publish, plan and execute; receipts reference them. */
export const policyDecisions = pgTable(
  'policy_decisions',
  {
    decisionId: uuid('decision_id').primaryKey(),
    tenantId: tenantId(),
    pack: text('pack').notNull(),
    allow: boolean('allow').notNull(),
    reasons: jsonb('reasons').$type<string[]>().notNull(),
    bundleDigest: text('bundle_digest').notNull(),
    backend: text('backend').notNull(),
    latencyMs: numeric('latency_ms', { precision: 10, scale: 3, mode: 'number' }).notNull(),
    phase: text('phase', { enum: ['publish', 'plan', 'execute'] }).notNull(),
    action: text('action').notNull(),
    actorSub: text('actor_sub').notNull(),
    workflowId: uuid('workflow_id'),
    /** Null for a denied start (no execution was created) and for publish and plan. */
    executionId: uuid('execution_id'),
    inputDigest: text('input_digest').notNull(),
    ...timestamps,
  },
  (t) => [
    index('policy_decisions_execution_idx').on(t.executionId),
    index('policy_decisions_workflow_idx').on(t.workflowId, t.createdAt),
    index('policy_decisions_denies_idx').on(t.allow, t.createdAt),
  ],
);
