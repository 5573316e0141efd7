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
  smallint,
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

/**
 * The tenant of a row written on an execution's hot path (its steps, results, logs, history,
 * decisions, audit events, receipt, data key, spend), without a foreign key: the value is copied
 * from the execution row (whose own key to `tenants` was checked when it was inserted) or from the
 * authenticated actor, and tenants are never deleted (`deleted_at`). The key checked nothing more,
 * and cost a `FOR KEY SHARE` lock of the tenant's one row per inserted row: ~25 per 1-task
 * execution, every concurrent transaction locking the same row (docs/performance.md).
 */
const copiedTenantId = () => uuid('tenant_id').notNull();

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

/**
 * The execution state machine (docs/architecture/execution-engine.md): `queued` (held by a
 * concurrency limit, no task enqueued) → `pending` → `running` ⇄ `paused` → `receipt_pending`
 * (finished, its outcome in `outcome`, the signed receipt not yet stored) → one terminal status,
 * set in the transaction that records the stored receipt: never terminal without a receipt.
 */
export const executionStatuses = ['queued', 'pending', 'running', 'paused', 'receipt_pending', 'succeeded', 'failed', 'cancelled', 'rejected', 'rolled_back'] as const;
export const terminalExecutionStatuses = ['succeeded', 'failed', 'cancelled', 'rejected', 'rolled_back'] as const;
/** Not yet terminal: what the tenant quota and the concurrency limits count. */
export const activeExecutionStatuses = ['queued', 'pending', 'running', 'paused'] as const;
export const executionPriorities = ['high', 'normal', 'low'] as const;

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
    /** Data class of the inputs, decided at ingest (spec §3): `regulated` when PII was found, else `sensitive`. */
    inputsClass: text('inputs_class', { enum: ['public', 'internal', 'sensitive', 'regulated'] }).notNull().default('sensitive'),
    /** The starter's role: a schedule's runs act as the actor who created it. */
    actorRole: text('actor_role'),
    priority: text('priority', { enum: executionPriorities }).notNull().default('normal'),
    /** `<workflow name>/<key>` when the manifest declares `concurrency`; at most `concurrency_limit` active at once. */
    concurrencyKey: text('concurrency_key'),
    concurrencyLimit: integer('concurrency_limit'),
    /** A rerun: the failed execution this one continues, reusing its succeeded steps. */
    rerunOf: uuid('rerun_of'),
    /** The task idempotency scope when it is not this execution's own (a rerun shares its original's). */
    idempotencyScope: text('idempotency_scope'),
    /** The schedule that fired this run, if any. */
    scheduleId: uuid('schedule_id'),
    pausedAt: timestamp('paused_at', { withTimezone: true }),
    /** While `receipt_pending`: the terminal status the execution takes once its receipt is stored. */
    outcome: text('outcome', { enum: terminalExecutionStatuses }),
  },
  (t) => [
    check(
      'executions_status_check',
      sql`${t.status} in ('queued','pending','running','paused','receipt_pending','succeeded','failed','cancelled','rejected','rolled_back')`,
    ),
    check('executions_outcome_check', sql`${t.outcome} is null or ${t.outcome} in ('succeeded','failed','cancelled','rejected','rolled_back')`),
    check('executions_priority_check', sql`${t.priority} in ('high','normal','low')`),
    check('executions_inputs_class_check', sql`${t.inputsClass} in ('public','internal','sensitive','regulated')`),
    index('executions_concurrency_idx').on(t.tenantId, t.concurrencyKey, t.status),
    index('executions_rerun_of_idx').on(t.rerunOf),
    index('executions_status_idx').on(t.status),
    index('executions_workflow_idx').on(t.workflowId, t.createdAt),
    index('executions_created_at_idx').on(t.tenantId, t.createdAt, t.id),
    uniqueIndex('executions_tenant_idempotency_key_key').on(t.tenantId, t.idempotencyKey),
  ],
);

/** `waiting`: a durable sleep, an event wait or an approval, holding no worker slot; `cancelled`: stopped by a cancel or a rejection. */
export const stepStatuses = ['pending', 'queued', 'running', 'waiting', 'succeeded', 'failed', 'skipped', 'cancelled'] as const;

export const executionSteps = pgTable(
  'execution_steps',
  {
    executionId: uuid('execution_id')
      .notNull()
      .references(() => executions.id),
    tenantId: copiedTenantId(),
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
    /** A waiting step's deadline: when a sleep ends, or when a wait or an approval times out. */
    wakeAt: timestamp('wake_at', { withTimezone: true }),
    /** Times the sweeper put this step back on the queue because no worker held it. */
    requeues: integer('requeues').notNull().default(0),
  },
  (t) => [
    primaryKey({ columns: [t.executionId, t.taskId] }),
    check('execution_steps_status_check', sql`${t.status} in ('pending','queued','running','waiting','succeeded','failed','skipped','cancelled')`),
    index('execution_steps_status_idx').on(t.status, t.updatedAt),
  ],
);

/** Spec §11's idempotency store: a task's stored result, returned instead of acting twice. */
export const taskResults = pgTable('task_results', {
  idempotencyKey: text('idempotency_key').primaryKey(),
  tenantId: copiedTenantId(),
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
    tenantId: copiedTenantId(),
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
    tenantId: copiedTenantId(),
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
    tenantId: copiedTenantId(),
    ts: timestamp('ts', { withTimezone: true }).notNull().defaultNow(),
    type: text('type').notNull(),
    actor: jsonb('actor').notNull(),
    subject: jsonb('subject').notNull(),
    data: jsonb('data').notNull(),
    workflowId: uuid('workflow_id'),
    executionId: uuid('execution_id'),
    prevHash: text('prev_hash').notNull(),
    hash: text('hash').notNull(),
    /** The event bus partition (hash(workflow id) % 12, shared/event-bus.ts); the outbox relay reads by it. */
    partition: integer('partition').notNull(),
  },
  (t) => [
    index('audit_events_tenant_idx').on(t.tenantId, t.seq),
    index('audit_events_partition_idx').on(t.partition, t.seq),
    index('audit_events_workflow_idx').on(t.workflowId, t.seq),
    index('audit_events_execution_idx').on(t.executionId, t.seq),
  ],
);

/**
 * The audit outbox's cursor (server/audit/outbox-relay.ts): per bus partition, the last audit
 * `seq` published to Redis Streams. audit_events is append-only, so "published" lives here, not
 * on the rows; a relay holds a partition's row FOR UPDATE while it publishes that partition.
 */
export const auditOutboxCursors = pgTable('audit_outbox_cursors', {
  partition: integer('partition').primaryKey(),
  lastSeq: bigint('last_seq', { mode: 'number' }).notNull().default(0),
  publishedAt: timestamp('published_at', { withTimezone: true }),
});

/** Every policy decision, allow or deny, at publish, plan and execute; receipts reference them. */
export const policyDecisions = pgTable(
  'policy_decisions',
  {
    decisionId: uuid('decision_id').primaryKey(),
    tenantId: copiedTenantId(),
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

/** Named events sent to an execution (`executions.signal`); `pkg:mc/wait-for-event` resumes on a matching one. */
export const executionSignals = pgTable(
  'execution_signals',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: tenantId(),
    executionId: uuid('execution_id')
      .notNull()
      .references(() => executions.id),
    event: text('event').notNull(),
    key: text('key').notNull().default(''),
    payload: jsonb('payload'),
    actorSub: text('actor_sub').notNull(),
    ...timestamps,
  },
  (t) => [index('execution_signals_lookup_idx').on(t.executionId, t.event, t.key, t.createdAt)],
);

/** Approvals and rejections of a `pkg:mc/approval` step; one decision per approver per step. */
export const executionApprovals = pgTable(
  'execution_approvals',
  {
    executionId: uuid('execution_id')
      .notNull()
      .references(() => executions.id),
    tenantId: tenantId(),
    taskId: text('task_id').notNull(),
    actorSub: text('actor_sub').notNull(),
    actorRole: text('actor_role').notNull(),
    decision: text('decision', { enum: ['approve', 'reject'] }).notNull(),
    comment: text('comment'),
    ...timestamps,
  },
  (t) => [
    primaryKey({ columns: [t.executionId, t.taskId, t.actorSub] }),
    check('execution_approvals_decision_check', sql`${t.decision} in ('approve','reject')`),
  ],
);

export const scheduleStatuses = ['active', 'paused', 'deleted'] as const;

/**
 * Cron or fixed-interval schedules of a published workflow version. Fired by BullMQ job
 * schedulers (`server/schedules/`); each run is an ordinary execution started as the actor who
 * created the schedule.
 */
export const schedules = pgTable(
  'schedules',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: tenantId(),
    workflowId: uuid('workflow_id')
      .notNull()
      .references(() => workflows.id),
    name: text('name').notNull(),
    cron: text('cron'),
    timezone: text('timezone').notNull().default('UTC'),
    everyMs: integer('every_ms'),
    inputs: jsonb('inputs').notNull().default({}),
    missedRunPolicy: text('missed_run_policy', { enum: ['skip', 'run_once'] }).notNull().default('run_once'),
    status: text('status', { enum: scheduleStatuses }).notNull().default('active'),
    actorSub: text('actor_sub').notNull(),
    actorRole: text('actor_role').notNull(),
    ...timestamps,
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
    lastFiredAt: timestamp('last_fired_at', { withTimezone: true }),
    lastExecutionId: uuid('last_execution_id'),
  },
  (t) => [
    index('schedules_tenant_idx').on(t.tenantId, t.createdAt, t.id),
    check('schedules_status_check', sql`${t.status} in ('active','paused','deleted')`),
    check('schedules_missed_run_policy_check', sql`${t.missedRunPolicy} in ('skip','run_once')`),
    check('schedules_kind_check', sql`(${t.cron} is null) <> (${t.everyMs} is null)`),
  ],
);

/*
 * Releases (canary rollouts, spec §10) — server/releases/. A workflow name has one stable version
 * (`release_tracks`) and at most one active release whose canary takes `weight`% of the
 * executions started by name. Every transition is guarded by `version` (optimistic concurrency),
 * so a controller killed at any step resumes from what is stored and never promotes twice.
 */
export const releaseStatuses = ['active', 'completed', 'rolled_back'] as const;

export const releaseTracks = pgTable(
  'release_tracks',
  {
    tenantId: tenantId(),
    workflowName: text('workflow_name').notNull(),
    stableWorkflowId: uuid('stable_workflow_id')
      .notNull()
      .references(() => workflows.id),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.workflowName] })],
);

export const releases = pgTable(
  'releases',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: tenantId(),
    workflowName: text('workflow_name').notNull(),
    stableWorkflowId: uuid('stable_workflow_id')
      .notNull()
      .references(() => workflows.id),
    canaryWorkflowId: uuid('canary_workflow_id')
      .notNull()
      .references(() => workflows.id),
    status: text('status', { enum: releaseStatuses }).notNull().default('active'),
    /** Share of executions started by name that run the canary, 0–100. */
    weight: integer('weight').notNull(),
    /** Index into MC_CANARY_WEIGHTS; executions are tagged with it, so a stage's analysis sees only its own traffic. */
    stage: integer('stage').notNull().default(0),
    stageStartedAt: timestamp('stage_started_at', { withTimezone: true }).notNull(),
    /** The stage weights and windows in force when the release started (config may change meanwhile). */
    plan: jsonb('plan').$type<{ weights: number[]; windowsMs: number[] }>().notNull(),
    /** Bumped by every transition; a write naming an older version changes nothing. */
    version: integer('version').notNull().default(1),
    startedBy: text('started_by').notNull(),
    lastAnalysis: jsonb('last_analysis'),
    lastAnalyzedAt: timestamp('last_analyzed_at', { withTimezone: true }),
    ...timestamps,
    finishedAt: timestamp('finished_at', { withTimezone: true }),
    outcomeReason: text('outcome_reason'),
  },
  (t) => [
    uniqueIndex('releases_one_active_key').on(t.tenantId, t.workflowName).where(sql`${t.status} = 'active'`),
    index('releases_tenant_idx').on(t.tenantId, t.createdAt),
    check('releases_status_check', sql`${t.status} in ('active','completed','rolled_back')`),
    check('releases_weight_check', sql`${t.weight} between 0 and 100`),
  ],
);

/** A release's timeline and evidence: starts, analyses, promotions, rollbacks, breaches, with who and why. */
export const releaseEvents = pgTable(
  'release_events',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    releaseId: uuid('release_id')
      .notNull()
      .references(() => releases.id),
    tenantId: tenantId(),
    at: timestamp('at', { withTimezone: true }).notNull(),
    kind: text('kind').notNull(),
    actor: text('actor').notNull(),
    stage: integer('stage').notNull(),
    fromWeight: integer('from_weight'),
    toWeight: integer('to_weight'),
    /** Makes an event once-only (e.g. `promote:0`): a resumed controller cannot record a step twice. */
    dedupeKey: text('dedupe_key').notNull(),
    data: jsonb('data').notNull().default({}),
  },
  (t) => [uniqueIndex('release_events_dedupe_key').on(t.releaseId, t.dedupeKey), index('release_events_release_idx').on(t.releaseId, t.id)],
);

/** One row per execution request routed through a release (and per denied one): the stage's traffic. */
export const releaseRequests = pgTable(
  'release_requests',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    releaseId: uuid('release_id')
      .notNull()
      .references(() => releases.id),
    tenantId: tenantId(),
    stage: integer('stage').notNull(),
    arm: text('arm', { enum: ['stable', 'canary'] }).notNull(),
    workflowId: uuid('workflow_id').notNull(),
    executionId: uuid('execution_id'),
    denied: boolean('denied').notNull().default(false),
    ...timestamps,
  },
  (t) => [index('release_requests_stage_idx').on(t.releaseId, t.stage, t.arm), check('release_requests_arm_check', sql`${t.arm} in ('stable','canary')`)],
);

/** Error budget (spec §9) per tenant: the last evaluation and the change-freeze state it keeps. */
export const errorBudgetStates = pgTable('error_budget_states', {
  tenantId: uuid('tenant_id')
    .primaryKey()
    .references(() => tenants.id),
  freezeActive: boolean('freeze_active').notNull().default(false),
  freezeSince: timestamp('freeze_since', { withTimezone: true }),
  remainingRatio: numeric('remaining_ratio', { precision: 12, scale: 6, mode: 'number' }).notNull(),
  burnRatePerHour: numeric('burn_rate_per_hour', { precision: 12, scale: 6, mode: 'number' }).notNull(),
  burnLast24h: numeric('burn_last_24h', { precision: 12, scale: 6, mode: 'number' }).notNull(),
  evaluation: jsonb('evaluation').notNull(),
  evaluatedAt: timestamp('evaluated_at', { withTimezone: true }).notNull(),
  version: integer('version').notNull().default(1),
});

/** Alerts of the error budget and Sev1 detection (no audit type of their own: spec §4 fixes five). */
export const opsAlerts = pgTable(
  'ops_alerts',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    /** Null for platform-wide alerts (Sev1). */
    tenantId: uuid('tenant_id').references(() => tenants.id),
    kind: text('kind').notNull(),
    /** `<kind>:<tenant>:<period>`: an alert is raised once per period. */
    dedupeKey: text('dedupe_key').notNull().unique(),
    at: timestamp('at', { withTimezone: true }).notNull(),
    data: jsonb('data').notNull().default({}),
  },
  (t) => [index('ops_alerts_tenant_idx').on(t.tenantId, t.at)],
);

/** Sev1 incidents (incident playbook): at most one open per criterion. */
export const incidents = pgTable(
  'incidents',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    severity: text('severity').notNull().default('sev1'),
    criterion: text('criterion', { enum: ['api_5xx_rate', 'publish_to_start_p95'] }).notNull(),
    openedAt: timestamp('opened_at', { withTimezone: true }).notNull(),
    clearedAt: timestamp('cleared_at', { withTimezone: true }),
    evidence: jsonb('evidence').notNull(),
    /** What containment did: the releases set to weight 0. */
    actions: jsonb('actions').notNull().default({}),
  },
  (t) => [uniqueIndex('incidents_one_open_key').on(t.criterion).where(sql`${t.clearedAt} is null`)],
);

/** API requests per minute, summed over server processes: the Sev1 5xx-rate criterion reads it. */
export const apiRequestMinutes = pgTable('api_request_minutes', {
  minute: timestamp('minute', { withTimezone: true }).primaryKey(),
  total: bigint('total', { mode: 'number' }).notNull().default(0),
  errors5xx: bigint('errors_5xx', { mode: 'number' }).notNull().default(0),
});

/**
 * The budget pack's rolling window as running totals (server/policy/spend-ledger.ts): per tenant
 * and minute of `executions.created_at`, the sum of each run's estimate, corrected to its cost
 * when it finishes. Reading the window is a sum over at most window×60×shards rows, whatever the
 * number of executions. `shard` spreads one busy tenant's concurrent starts over several rows.
 */
export const tenantSpendMinutes = pgTable(
  'tenant_spend_minutes',
  {
    tenantId: copiedTenantId(),
    minute: timestamp('minute', { withTimezone: true }).notNull(),
    shard: smallint('shard').notNull(),
    amountUsd: numeric('amount_usd', { precision: 14, scale: 4 }).notNull().default('0'),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.minute, t.shard] })],
);

/*
 * Data lifecycle (spec §3; docs/data/MC_DATA_LIFECYCLE.md; server/payloads/, server/retention/).
 * Every column of every table has a data class in server/db/classification.ts.
 */

/**
 * Per-execution data keys: execution inputs and task outputs are stored AES-256-GCM encrypted under
 * their execution's key, itself wrapped by the master key. Erasing an execution nulls `wrapped_key`
 * (cryptographic erase): its payloads, wherever they are stored, can no longer be read.
 */
export const executionDataKeys = pgTable(
  'execution_data_keys',
  {
    executionId: uuid('execution_id')
      .primaryKey()
      .references(() => executions.id),
    tenantId: copiedTenantId(),
    /** The execution's region: large payloads go to its `mc-${region}-payloads` bucket. */
    region: text('region').notNull(),
    wrappedKey: text('wrapped_key'),
    masterKeyId: text('master_key_id').notNull(),
    ...timestamps,
    erasedAt: timestamp('erased_at', { withTimezone: true }),
  },
  (t) => [check('execution_data_keys_erased_check', sql`(${t.wrappedKey} is null) = (${t.erasedAt} is not null)`)],
);

/** The trail of cryptographic erasures (`executions.erase`): who erased which execution's payloads, when and why. */
export const dataErasures = pgTable(
  'data_erasures',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: tenantId(),
    executionId: uuid('execution_id')
      .notNull()
      .references(() => executions.id),
    actorSub: text('actor_sub').notNull(),
    reason: text('reason'),
    /** The master key that had wrapped the destroyed data key. */
    masterKeyId: text('master_key_id').notNull(),
    ...timestamps,
  },
  (t) => [uniqueIndex('data_erasures_execution_key').on(t.executionId)],
);

/** One row per batch a TTL job deleted (no audit event type of its own: spec §4 fixes five). */
export const retentionRuns = pgTable(
  'retention_runs',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    /** One run of a job may delete in several batches; they share this id. */
    runId: uuid('run_id').notNull(),
    kind: text('kind', { enum: ['step_logs'] }).notNull(),
    /** Rows older than this were expired. */
    cutoff: timestamp('cutoff', { withTimezone: true }).notNull(),
    retentionDays: integer('retention_days').notNull(),
    batch: integer('batch').notNull(),
    deleted: integer('deleted').notNull(),
    runner: text('runner').notNull(),
    startedAt: timestamp('started_at', { withTimezone: true }).notNull(),
    finishedAt: timestamp('finished_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('retention_runs_kind_idx').on(t.kind, t.finishedAt), check('retention_runs_kind_check', sql`${t.kind} in ('step_logs')`)],
);

/**
 * Every control-flow transition of an execution or a schedule (queued, admitted, paused, resumed,
 * cancelled, rejected, finished, rerun, signal, approval, orphaned step; schedule created, paused,
 * resumed, deleted, fired). `type` is the name proposed for `mc.events.v2`
 * (shared/audit-event.ts `auditEventTypesV2`); the rows move into the audit chain once v2 is adopted.
 */
export const executionTransitions = pgTable(
  'execution_transitions',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    tenantId: copiedTenantId(),
    type: text('type').notNull(),
    executionId: uuid('execution_id'),
    scheduleId: uuid('schedule_id'),
    fromStatus: text('from_status'),
    toStatus: text('to_status'),
    actorSub: text('actor_sub').notNull(),
    data: jsonb('data').notNull().default({}),
    ...timestamps,
  },
  (t) => [index('execution_transitions_execution_idx').on(t.executionId, t.id), index('execution_transitions_schedule_idx').on(t.scheduleId, t.id)],
);
