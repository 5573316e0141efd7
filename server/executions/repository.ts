import { digestOf } from '@mc/shared/canonical-json';
import { and, asc, desc, eq, getTableColumns, inArray, is, lt, or, SQL, sql } from 'drizzle-orm';
import { insertRowsAtCommit, type Queryable } from '../db/client.ts';
import { fixedStatement } from '../db/fixed-statement.ts';
import { sharedRead } from '../db/shared-read.ts';
import { prefixedColumns, rowOf, timestampOf } from '../db/raw-rows.ts';
import { rowsByExecution } from '../db/rows-by-execution.ts';
import {
  activeExecutionStatuses,
  executionApprovals,
  executionDataKeys,
  executionLogs,
  executions,
  executionSignals,
  executionSteps,
  executionTransitions,
  receipts,
  taskResults,
  terminalExecutionStatuses,
  workflows,
} from '../db/schema.ts';
import type { CursorPosition } from '../http/cursor.ts';
import { openExecution, openSignal, openTaskResult, sealNewExecution, sealSignal } from '../payloads/payload-boundary.ts';
import { addSpend, settleSpend } from '../policy/spend-ledger.ts';
import type { DataKeyRow } from '../payloads/data-key-repository.ts';

export type ExecutionRow = typeof executions.$inferSelect;
export type StepRow = typeof executionSteps.$inferSelect;
export type NewExecutionRow = typeof executions.$inferInsert;
export type NewStepRow = typeof executionSteps.$inferInsert;

/** The columns a start writes (the others keep their defaults): one fixed statement renders them all. */
const insertedColumns = [
  'id', 'tenantId', 'workflowId', 'status', 'region', 'actorSub', 'idempotencyKey', 'inputs', 'inputsDigest', 'rollout', 'traceId',
  'costEstimateUsd', 'openSteps', 'inputsClass', 'actorRole', 'priority', 'concurrencyKey', 'concurrencyLimit', 'rerunOf', 'idempotencyScope', 'scheduleId',
] as const satisfies readonly (keyof NewExecutionRow)[];
type InsertedColumn = (typeof insertedColumns)[number];
const insertExecutionStatement = fixedStatement<InsertedColumn>((q) =>
  q
    .insert(executions)
    .values(Object.fromEntries(insertedColumns.map((c) => [c, sql.placeholder(c)])) as unknown as NewExecutionRow)
    .onConflictDoNothing()
    .returning(),
);

/** A value not given takes its column's default from the schema (status, priority, …); SQL defaults (`id`'s) are not values, and sealing gives an id. */
const schemaDefaults: Partial<Record<InsertedColumn, unknown>> = Object.fromEntries(
  insertedColumns.flatMap((c) => {
    const d = getTableColumns(executions)[c].default;
    return d === undefined || is(d, SQL) ? [] : [[c, d]];
  }),
);

/** `row` takes only the columns the statement writes, so a value for any other is a type error, not silently dropped. */
export async function insertExecution(db: Queryable, row: Pick<NewExecutionRow, InsertedColumn>): Promise<ExecutionRow | null> {
  // Inputs are stored sealed (server/payloads/); the caller gets them back as it gave them.
  const { row: sealed, storeKey } = await sealNewExecution(db, row);
  const values = Object.fromEntries(insertedColumns.map((c) => [c, sealed[c] ?? schemaDefaults[c] ?? null])) as Record<InsertedColumn, unknown>;
  const [raw] = await insertExecutionStatement(db, values);
  if (!raw) return null;
  const inserted = rowOf(executions, raw);
  await addSpend(db, inserted.tenantId, inserted.createdAt, inserted.costEstimateUsd);
  await storeKey(db);
  return { ...inserted, inputs: row.inputs ?? {} };
}

/** Rows per insert statement: Postgres caps a statement at 65,535 parameters and a step row has ~6. */
const stepInsertChunk = 5000;

/**
 * `atCommit`: the caller reads none of them back in this transaction, so (up to one statement's
 * worth) they are sent with its COMMIT (`writeAtCommit`).
 */
export async function insertSteps(db: Queryable, rows: NewStepRow[], opts: { atCommit?: boolean } = {}): Promise<void> {
  if (opts.atCommit && rows.length > 0 && rows.length <= stepInsertChunk) {
    await insertRowsAtCommit(db, executionSteps, rows);
    return;
  }
  for (let i = 0; i < rows.length; i += stepInsertChunk) await db.insert(executionSteps).values(rows.slice(i, i + stepInsertChunk));
}

/** `tenantId` scopes the lookup on every request path; the worker, holding a job for the execution, looks up by id. */
export async function findExecution(db: Queryable, id: string, tenantId?: string): Promise<ExecutionRow | null> {
  const [row] = await db
    .select()
    .from(executions)
    .where(tenantId ? and(eq(executions.id, id), eq(executions.tenantId, tenantId)) : eq(executions.id, id));
  return row ? openExecution(db, row) : null;
}

/** The row with its inputs still sealed: for callers that do not read them, it saves the data-key lookup. */
export async function findExecutionSealed(db: Queryable, id: string): Promise<ExecutionRow | null> {
  const [row] = await db.select().from(executions).where(eq(executions.id, id));
  return row ?? null;
}

export async function lockExecution(db: Queryable, id: string): Promise<Pick<ExecutionRow, 'id' | 'status' | 'outcome' | 'openSteps'> | null> {
  const [row] = await db
    .select({ id: executions.id, status: executions.status, outcome: executions.outcome, openSteps: executions.openSteps })
    .from(executions)
    .where(eq(executions.id, id))
    .for('update');
  return row ?? null;
}

export async function findExecutionByIdempotencyKey(db: Queryable, tenantId: string, key: string): Promise<ExecutionRow | null> {
  const [row] = await db.select().from(executions).where(and(eq(executions.tenantId, tenantId), eq(executions.idempotencyKey, key)));
  return row ? openExecution(db, row) : null;
}

export async function findSteps(db: Queryable, executionId: string): Promise<StepRow[]> {
  return db.select().from(executionSteps).where(eq(executionSteps.executionId, executionId)).orderBy(asc(executionSteps.taskId));
}

/** `findSteps` of several executions in one statement. */
export async function findStepsOfExecutions(db: Queryable, executionIds: readonly string[]): Promise<Map<string, StepRow[]>> {
  const rows = executionIds.length === 0
    ? []
    : await db.select().from(executionSteps).where(inArray(executionSteps.executionId, [...executionIds])).orderBy(asc(executionSteps.executionId), asc(executionSteps.taskId));
  return rowsByExecution(executionIds, rows);
}

/**
 * The execution's steps when it has no open step left, else none (one index probe). Sent right
 * behind a step's completion on its transaction, it reads the steps the finish needs in the same
 * round trip, without reading a big fan-out's steps at every completion that does not finish it.
 */
export async function findStepsIfNoneOpen(db: Queryable, executionId: string): Promise<StepRow[]> {
  return (await stepsIfNoneOpen(db, { executionId })).map((raw) => rowOf(executionSteps, raw));
}
const stepsIfNoneOpen = fixedStatement<'executionId'>((q) =>
  q
    .select()
    .from(executionSteps)
    .where(and(eq(executionSteps.executionId, sql.placeholder('executionId')), sql`(select open_steps from ${executions} where id = ${sql.placeholder('executionId')}) = 0`))
    .orderBy(asc(executionSteps.taskId)),
);

export async function listExecutions(
  db: Queryable,
  opts: { tenantId: string; limit: number; after: CursorPosition | null; workflowId?: string | undefined; status?: ExecutionRow['status'] | undefined },
) {
  const conditions = [
    eq(executions.tenantId, opts.tenantId),
    opts.workflowId ? eq(executions.workflowId, opts.workflowId) : undefined,
    opts.status ? eq(executions.status, opts.status) : undefined,
    opts.after
      ? or(lt(executions.createdAt, opts.after.createdAt), and(eq(executions.createdAt, opts.after.createdAt), lt(executions.id, opts.after.id)))
      : undefined,
  ].filter((c) => c !== undefined);
  return db
    .select({ execution: executions, workflowName: workflows.name, workflowVersion: workflows.version })
    .from(executions)
    .innerJoin(workflows, eq(workflows.id, executions.workflowId))
    .where(and(...conditions))
    .orderBy(desc(executions.createdAt), desc(executions.id))
    .limit(opts.limit + 1);
}

const executionIdValue = sql.placeholder('executionId');
const taskIdValue = sql.placeholder('taskId');

// Rendered once (fixedStatement): its text, two select lists included, never changes.
const claimStatement = fixedStatement<'executionId' | 'taskId'>(
  () => sql`
    with claimed as (
      update ${executionSteps}
      set status = 'running',
          -- A waiting step woken up (its sleep ended, a signal or an approval came) is the same attempt going on.
          attempts = attempts + case when status = 'waiting' then 0 else 1 end,
          started_at = coalesce(started_at, now()),
          updated_at = now()
      where execution_id = ${executionIdValue} and task_id = ${taskIdValue} and status in ('queued', 'running', 'waiting')
        and exists (select 1 from ${executions} e where e.id = ${executionIdValue} and e.status in ('pending', 'running'))
      returning *
    ), started as (
      update ${executions} set status = 'running', started_at = now()
      where id = ${executionIdValue} and status = 'pending' and exists (select 1 from claimed)
      returning created_at, started_at
    )
    select claimed.*, started.created_at as mc_execution_created_at, started.started_at as mc_execution_started_at,
           ${prefixedColumns(executions, 'e', 'e__')}, ${prefixedColumns(executionDataKeys, 'k', 'k__')}
    from claimed left join started on true
      join ${executions} e on e.id = ${executionIdValue}
      left join ${executionDataKeys} k on k.execution_id = ${executionIdValue}`,
);

/**
 * Takes a step for a delivery and, when it is the execution's first, starts the execution
 * (pending → running) — one statement, one commit; the start happens only with a claim. `running`
 * is claimable too: BullMQ only re-delivers a running step's job once the previous holder lost its
 * lock (crashed or stalled); so is `waiting` (woken up). Returns null when the step is not
 * runnable (finished, or its execution is) — a duplicate delivery to ignore. `started`: the
 * execution's creation and start times when this claim started it (publish→start), else null.
 * The same statement reads the execution row (inputs still sealed) and its data key, which the
 * task needs next.
 */
export async function claimStep(
  db: Queryable,
  executionId: string,
  taskId: string,
): Promise<{ step: StepRow; started: { createdAt: Date; startedAt: Date } | null; execution: ExecutionRow; dataKey: DataKeyRow | null } | null> {
  const [raw] = await claimStatement(db, { executionId, taskId });
  if (!raw) return null;
  const createdAt = raw.mc_execution_created_at;
  const startedAt = raw.mc_execution_started_at;
  return {
    step: rowOf(executionSteps, raw),
    started: createdAt && startedAt ? { createdAt: timestampOf(createdAt), startedAt: timestampOf(startedAt) } : null,
    // As the statement's snapshot saw it: before `started` (the caller applies the start).
    execution: rowOf(executions, raw, 'e__'),
    dataKey: raw.k__execution_id === null || raw.k__execution_id === undefined ? null : rowOf(executionDataKeys, raw, 'k__'),
  };
}

export async function findTaskResult(db: Queryable, key: string) {
  const [row] = await db.select().from(taskResults).where(eq(taskResults.idempotencyKey, key));
  return row ? openTaskResult(db, row) : null;
}

export async function findOutputs(db: Queryable, executionId: string, taskIds: string[]): Promise<Map<string, unknown>> {
  if (taskIds.length === 0) return new Map();
  const rows = await db
    .select({ taskId: executionSteps.taskId, executionId: taskResults.executionId, output: taskResults.output })
    .from(executionSteps)
    .innerJoin(taskResults, eq(taskResults.idempotencyKey, executionSteps.idempotencyKey))
    .where(and(eq(executionSteps.executionId, executionId), inArray(executionSteps.taskId, taskIds)));
  const opened = await Promise.all(rows.map((r) => openTaskResult(db, r)));
  return new Map(opened.map((r) => [r.taskId, r.output]));
}

export async function updateStep(db: Queryable, executionId: string, taskId: string, fromStatus: StepRow['status'], values: Partial<NewStepRow>): Promise<boolean> {
  const rows = await db
    .update(executionSteps)
    .set({ ...values, updatedAt: sql`now()` })
    .where(and(eq(executionSteps.executionId, executionId), eq(executionSteps.taskId, taskId), eq(executionSteps.status, fromStatus)))
    .returning({ taskId: executionSteps.taskId });
  return rows.length > 0;
}

export async function skipSteps(db: Queryable, executionId: string, taskIds: string[], reason: string): Promise<number> {
  if (taskIds.length === 0) return 0;
  const rows = await db
    .update(executionSteps)
    .set({ status: 'skipped', error: reason, finishedAt: sql`now()`, updatedAt: sql`now()` })
    .where(and(eq(executionSteps.executionId, executionId), inArray(executionSteps.taskId, taskIds), eq(executionSteps.status, 'pending')))
    .returning({ taskId: executionSteps.taskId });
  return rows.length;
}

/** What `completeStepStatement` did: the execution's status and open steps after it (null: not movable, nothing changed). */
export interface StepCompletion {
  locked: { status: ExecutionStatus; openSteps: number } | null;
  /** The step moved `running → succeeded` (false: a duplicate delivery found it moved already). */
  moved: boolean;
  /** Dependents with no need left: now `queued`. */
  released: { taskId: string; runnerClass: string }[];
}

type CompletionValue = 'executionId' | 'taskId' | 'idempotencyKey' | 'outputDigest' | 'costUsd' | 'finishedAt' | 'durationMs' | 'statuses' | 'dependents';
type ResultValue = 'resultKey' | 'resultTenantId' | 'resultExecutionId' | 'resultTaskId' | 'output';

/** `completeStepStatement`'s text, with or without storing the task's result (each rendered once). */
function completionSql(storeResult: boolean) {
  const v = (name: CompletionValue | ResultValue) => sql.placeholder(name);
  const store = storeResult
    ? sql`stored as (
      insert into ${taskResults} (idempotency_key, tenant_id, execution_id, task_id, output, output_digest)
      values (${v('resultKey')}, ${v('resultTenantId')}, ${v('resultExecutionId')}, ${v('resultTaskId')}, ${v('output')}::jsonb, ${v('outputDigest')})
      on conflict do nothing
      returning output_digest
    ), `
    : sql``;
  // The statement's snapshot does not see its own insert: ours, else the one stored before under
  // the key. (One stored by a delivery still uncommitted at our snapshot committed its completion
  // with it, under the execution's lock, so this step no longer moves; ours is the last resort.)
  const digest = storeResult
    ? sql`coalesce((select output_digest from stored), (select output_digest from ${taskResults} where idempotency_key = ${v('resultKey')}), ${v('outputDigest')})`
    : sql`${v('outputDigest')}`;
  return sql`
    with ${store}locked as (
      select status, open_steps from ${executions}
      where id = ${v('executionId')} and status in (select jsonb_array_elements_text(${v('statuses')}::jsonb))
      for update
    ), moved as (
      update ${executionSteps}
      set status = 'succeeded', idempotency_key = ${v('idempotencyKey')}, output_digest = ${digest}, error = null,
          cost_usd = ${v('costUsd')}, finished_at = ${v('finishedAt')}::timestamptz, duration_ms = ${v('durationMs')}::int, updated_at = now()
      where execution_id = ${v('executionId')} and task_id = ${v('taskId')} and status = 'running' and exists (select 1 from locked)
      returning task_id
    ), counted as (
      update ${executions} set open_steps = open_steps - 1
      where id = ${v('executionId')} and exists (select 1 from moved)
      returning status, open_steps
    ), released as (
      update ${executionSteps}
      set remaining_needs = remaining_needs - 1, status = case when remaining_needs = 1 then 'queued' else status end, updated_at = now()
      where execution_id = ${v('executionId')} and status = 'pending' and exists (select 1 from moved)
        and task_id in (select jsonb_array_elements_text(${v('dependents')}::jsonb))
      returning task_id, status, runner_class
    )
    select coalesce((select row_to_json(c) from counted c), (select row_to_json(l) from locked l)) as locked, exists (select 1 from moved) as moved,
           coalesce((select json_agg(r) from released r), '[]'::json) as released`;
}
const completeOnly = fixedStatement<CompletionValue>(() => completionSql(false));
const completeStoringResult = fixedStatement<CompletionValue | ResultValue>(() => completionSql(true));

/**
 * A step's success, in one statement (one round trip on the hottest path of the engine): the
 * execution's row lock — if it is in one of `statuses`; then, only if that matched, the step
 * `running → succeeded`; then, only if that moved, one open step counted done and one need of each
 * dependent met, those with none left `queued`. Locks are taken in the engine's order (the
 * execution, then its steps). A dependent that a sibling's completion changed while this one
 * waited for the execution's lock is re-read by Postgres before its need is counted (read
 * committed), exactly as with separate statements. A step that did not move (a duplicate
 * delivery) changes nothing, so the statement is whole on its own: it needs no transaction.
 *
 * `sealed`: the task's result (its output sealed, `sealTaskResult`), stored by the same
 * statement once per idempotency key (a result an earlier delivery stored under the key stays the
 * one of record, and the step records its digest) — whether or not the step moves, as a separate
 * insert before it would have been.
 */
export async function completeStepStatement(
  db: Queryable,
  step: { executionId: string; taskId: string; idempotencyKey: string; outputDigest: string; costUsd: string; finishedAt: Date; durationMs: number | null },
  statuses: readonly ExecutionStatus[],
  dependents: readonly string[],
  sealed?: typeof taskResults.$inferInsert,
): Promise<StepCompletion> {
  const values = {
    executionId: step.executionId,
    taskId: step.taskId,
    idempotencyKey: step.idempotencyKey,
    outputDigest: sealed?.outputDigest ?? step.outputDigest,
    costUsd: step.costUsd,
    finishedAt: step.finishedAt.toISOString(),
    durationMs: step.durationMs,
    statuses: JSON.stringify(statuses),
    dependents: JSON.stringify(dependents),
  };
  const [row] = (sealed
    ? await completeStoringResult(db, {
        ...values,
        resultKey: sealed.idempotencyKey,
        resultTenantId: sealed.tenantId,
        resultExecutionId: sealed.executionId,
        resultTaskId: sealed.taskId,
        output: JSON.stringify(sealed.output),
      })
    : await completeOnly(db, values)) as { locked: { status: ExecutionStatus; open_steps: number } | null; moved: boolean; released: { task_id: string; status: string; runner_class: string }[] }[];
  const locked = row?.locked ? { status: row.locked.status, openSteps: Number(row.locked.open_steps) } : null;
  return {
    locked,
    moved: row?.moved === true,
    released: (row?.released ?? []).filter((r) => r.status === 'queued').map((r) => ({ taskId: r.task_id, runnerClass: r.runner_class })),
  };
}

export async function decrementOpenSteps(db: Queryable, executionId: string, by: number): Promise<number> {
  const [row] = await db
    .update(executions)
    .set({ openSteps: sql`${executions.openSteps} - ${by}` })
    .where(eq(executions.id, executionId))
    .returning({ openSteps: executions.openSteps });
  return row!.openSteps;
}

/**
 * Every step has ended: the execution becomes `receipt_pending` with its outcome (succeeded, or
 * failed if any step failed). The outcome becomes its status only in the transaction that records
 * the stored receipt (receipt-issuer.ts), so no one ever sees it `succeeded` without one.
 */
export async function finishExecution(db: Queryable, executionId: string, known?: readonly StepRow[]): Promise<ExecutionRow> {
  // `known`: the steps as the caller's transaction already read them (all terminal).
  const steps = known ?? (await findSteps(db, executionId));
  const failed = steps.filter((s) => s.status === 'failed');
  const outputs = Object.fromEntries(steps.filter((s) => s.outputDigest).map((s) => [s.taskId, s.outputDigest]));
  const [raw] = await finishStatement(db, {
    executionId,
    outcome: failed.length > 0 ? 'failed' : 'succeeded',
    outputsDigest: digestOf(outputs),
    error: failed.length > 0 ? `task${failed.length > 1 ? 's' : ''} ${failed.map((f) => f.taskId).join(', ')} failed` : null,
  });
  const row = rowOf(executions, raw!);
  await settleSpend(db, row);
  return row;
}
// Rendered once (fixedStatement): every execution finishes through it.
const finishStatement = fixedStatement<'executionId' | 'outcome' | 'outputsDigest' | 'error'>((q) =>
  q
    .update(executions)
    .set({
      status: 'receipt_pending',
      outcome: sql`${sql.placeholder('outcome')}`,
      finishedAt: sql`now()`,
      outputsDigest: sql`${sql.placeholder('outputsDigest')}`,
      error: sql`${sql.placeholder('error')}`,
      costUsd: sql`(select coalesce(sum(cost_usd), 0) from execution_steps where execution_id = ${sql.placeholder('executionId')})`,
    })
    .where(eq(executions.id, sql.placeholder('executionId')))
    .returning(),
);

/** Log lines, one or many, in one statement (`insertLogLines`). */
export async function appendLogs(db: Queryable, rows: (typeof executionLogs.$inferInsert)[]): Promise<void> {
  if (rows.length > 0) {
    await insertLogLines(db, {
      lines: JSON.stringify(
        rows.map((r, i) => ({
          ord: i,
          tenant_id: r.tenantId,
          execution_id: r.executionId,
          task_id: r.taskId ?? null,
          attempt: r.attempt ?? null,
          level: r.level,
          message: r.message,
          // Absent, not JSON null: a line without data stores SQL NULL.
          ...(r.data === null || r.data === undefined ? {} : { data: r.data }),
          ...(r.ts ? { ts: r.ts } : {}),
        })),
      ),
    });
  }
}
// Any number of lines in one statement of fixed text (one parameter: the lines as JSON), so it is
// prepared once per connection however many lines go (log-line-group.ts sends many).
const insertLogLines = fixedStatement<'lines'>(
  () => sql`insert into ${executionLogs} (tenant_id, execution_id, task_id, attempt, level, message, data, ts)
    select r.tenant_id, r.execution_id, r.task_id, r.attempt, r.level, r.message, r.data, coalesce(r.ts, now())
    from jsonb_to_recordset(${sql.placeholder('lines')}::jsonb)
      as r(ord int, tenant_id uuid, execution_id uuid, task_id text, attempt int, level text, message text, data jsonb, ts timestamptz)
    order by r.ord`,
);

export async function findLogs(db: Queryable, executionId: string, afterId: number, limit: number) {
  return db
    .select()
    .from(executionLogs)
    .where(and(eq(executionLogs.executionId, executionId), sql`${executionLogs.id} > ${afterId}`))
    .orderBy(asc(executionLogs.id))
    .limit(limit);
}

export async function findReceiptSummary(db: Queryable, executionId: string) {
  const [row] = await db
    .select({ digest: receipts.digest, storedUri: receipts.storedUri, verified: receipts.verified, createdAt: receipts.createdAt })
    .from(receipts)
    .where(eq(receipts.executionId, executionId));
  return row ?? null;
}

/**
 * Sweeper: steps that should have a job but may have lost it (crash between commit and enqueue,
 * Redis data loss) — queued or running ones of a pending or running execution, and waiting ones
 * whose wake-up time has passed. Steps of a paused execution wait for `resume`.
 */
export async function findStrandedSteps(db: Queryable, olderThanMs: number, limit: number) {
  return db
    .select({
      executionId: executionSteps.executionId,
      tenantId: executionSteps.tenantId,
      taskId: executionSteps.taskId,
      runnerClass: executionSteps.runnerClass,
      status: executionSteps.status,
      requeues: executionSteps.requeues,
      wakeAt: executionSteps.wakeAt,
    })
    .from(executionSteps)
    .innerJoin(executions, eq(executions.id, executionSteps.executionId))
    .where(
      and(
        inArray(executions.status, ['pending', 'running']),
        or(
          and(inArray(executionSteps.status, ['queued', 'running']), sql`${executionSteps.updatedAt} < now() - make_interval(secs => ${olderThanMs / 1000})`),
          and(eq(executionSteps.status, 'waiting'), sql`${executionSteps.wakeAt} < now() - make_interval(secs => ${olderThanMs / 1000})`),
        ),
      ),
    )
    .orderBy(asc(executionSteps.updatedAt))
    .limit(limit);
}

export async function countRequeue(db: Queryable, executionId: string, taskId: string): Promise<void> {
  await db
    .update(executionSteps)
    .set({ requeues: sql`${executionSteps.requeues} + 1`, updatedAt: sql`now()` })
    .where(and(eq(executionSteps.executionId, executionId), eq(executionSteps.taskId, taskId)));
}

/**
 * Sweeper: executions waiting for their receipt — every `receipt_pending` one (with a receipt row
 * too: the issuer then only moves it to its outcome), and terminal ones without a receipt (rows
 * finished before `receipt_pending` existed).
 */
export async function findExecutionsMissingReceipts(db: Queryable, olderThanMs: number, limit: number): Promise<string[]> {
  const rows = await db
    .select({ id: executions.id })
    .from(executions)
    .leftJoin(receipts, eq(receipts.executionId, executions.id))
    .where(
      and(
        or(eq(executions.status, 'receipt_pending'), and(inArray(executions.status, [...terminalExecutionStatuses]), sql`${receipts.executionId} is null`)),
        sql`${executions.finishedAt} < now() - make_interval(secs => ${olderThanMs / 1000})`,
      ),
    )
    .limit(limit);
  return rows.map((r) => r.id);
}

/**
 * Executions of a tenant not yet finished: what the concurrency quota counts. Starts of one
 * tenant that come together share one count (`sharedRead`): the quota is advisory under
 * concurrency anyway.
 */
export async function countActiveExecutions(db: Queryable, tenantId: string): Promise<number> {
  const [row] = await sharedRead(db, `active-executions ${tenantId}`, () => activeExecutionCount(db, { tenantId }));
  return Number(row?.n ?? 0);
}
const activeExecutionCount = fixedStatement<'tenantId'>((q) =>
  q
    .select({ n: sql<number>`count(*)::int`.as('n') })
    .from(executions)
    .where(and(eq(executions.tenantId, sql.placeholder('tenantId')), inArray(executions.status, [...activeExecutionStatuses]))),
);

/** Executions of a tenant not yet finished that have a task on the given runner class. */
export async function countActiveExecutionsInRunnerClass(db: Queryable, tenantId: string, runnerClass: string): Promise<number> {
  const [row] = await db
    .select({ n: sql<number>`count(distinct ${executions.id})::int` })
    .from(executions)
    .innerJoin(executionSteps, eq(executionSteps.executionId, executions.id))
    .where(and(eq(executions.tenantId, tenantId), inArray(executions.status, [...activeExecutionStatuses]), eq(executionSteps.runnerClass, runnerClass)));
  return row?.n ?? 0;
}

export type StepStatus = StepRow['status'];
export type ExecutionStatus = ExecutionRow['status'];

/** The execution row, locked for the rest of the transaction: every control transition takes it first. */
export async function lockExecutionRow(db: Queryable, id: string, tenantId?: string): Promise<ExecutionRow | null> {
  const [row] = await db
    .select()
    .from(executions)
    .where(tenantId ? and(eq(executions.id, id), eq(executions.tenantId, tenantId)) : eq(executions.id, id))
    .for('update');
  return row ?? null;
}

export async function setExecutionStatus(db: Queryable, id: string, from: readonly ExecutionStatus[], values: Partial<NewExecutionRow> & { status: ExecutionStatus }): Promise<ExecutionRow | null> {
  const [row] = await db
    .update(executions)
    .set(values)
    .where(and(eq(executions.id, id), inArray(executions.status, [...from])))
    .returning();
  return row ?? null;
}

/**
 * Ends an execution early (cancel, reject): steps that had not started (or were waiting) become
 * `cancelled`; running ones are left to their workers, which stop them within the grace period.
 * Like `finishExecution`, the execution becomes `receipt_pending` with `status` as its outcome.
 */
export async function terminateExecution(db: Queryable, id: string, status: 'cancelled' | 'rejected', reason: string): Promise<ExecutionRow> {
  await db
    .update(executionSteps)
    .set({ status: 'cancelled', error: reason, finishedAt: sql`now()`, updatedAt: sql`now()` })
    .where(and(eq(executionSteps.executionId, id), inArray(executionSteps.status, ['pending', 'queued', 'waiting'])));
  const steps = await db
    .select({ taskId: executionSteps.taskId, outputDigest: executionSteps.outputDigest })
    .from(executionSteps)
    .where(and(eq(executionSteps.executionId, id), eq(executionSteps.status, 'succeeded')));
  const [row] = await db
    .update(executions)
    .set({
      status: 'receipt_pending',
      outcome: status,
      finishedAt: sql`now()`,
      error: reason,
      outputsDigest: digestOf(Object.fromEntries(steps.filter((s) => s.outputDigest).map((s) => [s.taskId, s.outputDigest]))),
      costUsd: sql`(select coalesce(sum(cost_usd), 0) from execution_steps where execution_id = ${id})`,
    })
    .where(eq(executions.id, id))
    .returning();
  await settleSpend(db, row!);
  return row!;
}

/** Steps still `running` in an execution: a cancelled one's receipt waits for them (bounded by the grace period). */
export async function findRunningSteps(db: Queryable, executionId: string): Promise<StepRow[]> {
  return db.select().from(executionSteps).where(and(eq(executionSteps.executionId, executionId), eq(executionSteps.status, 'running')));
}

/** A cancelled or rejected execution's running steps that never answered within the grace period. */
export async function abandonRunningSteps(db: Queryable, executionId: string, reason: string): Promise<number> {
  const rows = await db
    .update(executionSteps)
    .set({ status: 'cancelled', error: reason, finishedAt: sql`now()`, updatedAt: sql`now()` })
    .where(and(eq(executionSteps.executionId, executionId), eq(executionSteps.status, 'running')))
    .returning({ taskId: executionSteps.taskId });
  return rows.length;
}

/** Steps of an execution in the given statuses (resume re-enqueues queued and waiting ones). */
export async function findStepsIn(db: Queryable, executionId: string, statuses: readonly StepStatus[]): Promise<StepRow[]> {
  return db
    .select()
    .from(executionSteps)
    .where(and(eq(executionSteps.executionId, executionId), inArray(executionSteps.status, [...statuses])));
}

/** On a transaction, sent with its COMMIT (`writeAtCommit`): the history is read only by later requests. */
export async function appendTransitions(db: Queryable, rows: (typeof executionTransitions.$inferInsert)[]): Promise<void> {
  await insertRowsAtCommit(db, executionTransitions, rows);
}

export async function findTransitions(db: Queryable, opts: { executionId?: string; scheduleId?: string; limit?: number }) {
  return db
    .select()
    .from(executionTransitions)
    .where(opts.executionId ? eq(executionTransitions.executionId, opts.executionId) : eq(executionTransitions.scheduleId, opts.scheduleId!))
    .orderBy(asc(executionTransitions.id))
    .limit(opts.limit ?? 1000);
}

export async function insertSignal(db: Queryable, row: typeof executionSignals.$inferInsert) {
  // The payload is stored sealed under the execution's data key (server/payloads/); the caller gets it back as it gave it.
  const [inserted] = await db.insert(executionSignals).values(await sealSignal(db, row)).returning();
  return { ...inserted!, payload: row.payload ?? null };
}

/** The earliest signal with this event and key sent to the execution (sent before the wait began counts too). */
export async function findSignal(db: Queryable, executionId: string, event: string, key: string) {
  const [row] = await db
    .select()
    .from(executionSignals)
    .where(and(eq(executionSignals.executionId, executionId), eq(executionSignals.event, event), eq(executionSignals.key, key)))
    .orderBy(asc(executionSignals.createdAt))
    .limit(1);
  return row ? openSignal(db, row) : null;
}

export type ApprovalRow = typeof executionApprovals.$inferSelect;

/** Records one approver's decision; a second decision by the same approver on the same step is refused (returns null). */
export async function insertApproval(db: Queryable, row: typeof executionApprovals.$inferInsert): Promise<ApprovalRow | null> {
  const [inserted] = await db.insert(executionApprovals).values(row).onConflictDoNothing().returning();
  return inserted ?? null;
}

export async function findApprovals(db: Queryable, executionId: string, taskId?: string): Promise<ApprovalRow[]> {
  return db
    .select()
    .from(executionApprovals)
    .where(taskId ? and(eq(executionApprovals.executionId, executionId), eq(executionApprovals.taskId, taskId)) : eq(executionApprovals.executionId, executionId))
    .orderBy(asc(executionApprovals.createdAt));
}

/** `findApprovals` of several executions in one statement. */
export async function findApprovalsOfExecutions(db: Queryable, executionIds: readonly string[]): Promise<Map<string, ApprovalRow[]>> {
  const rows = executionIds.length === 0
    ? []
    : await db.select().from(executionApprovals).where(inArray(executionApprovals.executionId, [...executionIds])).orderBy(asc(executionApprovals.createdAt));
  return rowsByExecution(executionIds, rows);
}

/** Active executions holding (or waiting for) a concurrency slot of this key. */
export async function countConcurrencyHolders(db: Queryable, tenantId: string, key: string): Promise<number> {
  const [row] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(executions)
    .where(and(eq(executions.tenantId, tenantId), eq(executions.concurrencyKey, key), inArray(executions.status, ['pending', 'running', 'paused'])));
  return row?.n ?? 0;
}

/** The next queued executions for a concurrency key: higher priority first, then oldest. */
export async function findQueuedForKey(db: Queryable, tenantId: string, key: string, limit: number): Promise<ExecutionRow[]> {
  if (limit <= 0) return [];
  return db
    .select()
    .from(executions)
    .where(and(eq(executions.tenantId, tenantId), eq(executions.concurrencyKey, key), eq(executions.status, 'queued')))
    .orderBy(sql`case ${executions.priority} when 'high' then 0 when 'normal' then 1 else 2 end`, asc(executions.createdAt), asc(executions.id))
    .limit(limit)
    .for('update', { skipLocked: true });
}

/** Sweeper: concurrency keys with queued executions (an admission lost to a crash is retried). */
export async function findQueuedKeys(db: Queryable, limit: number): Promise<{ tenantId: string; concurrencyKey: string }[]> {
  const rows = await db
    .selectDistinct({ tenantId: executions.tenantId, concurrencyKey: executions.concurrencyKey })
    .from(executions)
    .where(and(eq(executions.status, 'queued'), sql`${executions.concurrencyKey} is not null`))
    .limit(limit);
  return rows.filter((r): r is { tenantId: string; concurrencyKey: string } => r.concurrencyKey !== null);
}

/**
 * Reaper: pending or running executions none of whose steps can still move (every step terminal)
 * — an execution no worker will ever finish. They are finished from their steps.
 */
export async function findStuckExecutions(db: Queryable, olderThanMs: number, limit: number): Promise<string[]> {
  const rows = await db
    .select({ id: executions.id })
    .from(executions)
    .where(
      and(
        inArray(executions.status, ['pending', 'running']),
        sql`${executions.createdAt} < now() - make_interval(secs => ${olderThanMs / 1000})`,
        sql`not exists (select 1 from ${executionSteps} s where s.execution_id = ${executions.id} and s.status in ('pending','queued','running','waiting'))`,
      ),
    )
    .limit(limit);
  return rows.map((r) => r.id);
}

/** Rerun: the original's succeeded steps, copied into the new execution with their idempotency keys and results. */
export async function copySucceededSteps(db: Queryable, fromExecutionId: string, toExecutionId: string): Promise<string[]> {
  const rows = await db.execute<{ task_id: string }>(sql`
    update execution_steps n set
      status = 'succeeded', idempotency_key = o.idempotency_key, output_digest = o.output_digest, attempts = 0,
      error = null, cost_usd = 0, started_at = o.started_at, finished_at = o.finished_at, duration_ms = o.duration_ms,
      remaining_needs = 0, updated_at = now()
    from execution_steps o
    where o.execution_id = ${fromExecutionId} and o.status = 'succeeded' and n.execution_id = ${toExecutionId} and n.task_id = o.task_id
    returning n.task_id`);
  return [...rows].map((r) => r.task_id);
}

/** Sets remaining needs of the given steps (a rerun recounts them over the steps it still has to run). */
export async function setStepNeeds(db: Queryable, executionId: string, needs: Map<string, number>): Promise<void> {
  for (const [taskId, n] of needs) {
    await db
      .update(executionSteps)
      .set({ remainingNeeds: n, status: n === 0 ? 'queued' : 'pending', updatedAt: sql`now()` })
      .where(and(eq(executionSteps.executionId, executionId), eq(executionSteps.taskId, taskId), inArray(executionSteps.status, ['pending', 'queued'])));
  }
}

export async function setOpenSteps(db: Queryable, executionId: string, openSteps: number): Promise<void> {
  await db.update(executions).set({ openSteps }).where(eq(executions.id, executionId));
}

export async function markStepWaiting(db: Queryable, executionId: string, taskId: string, wakeAt: Date): Promise<boolean> {
  // The execution's row is share-locked first, so this waits for a control action holding it (a
  // signal, an approval: `lockExecutionRow`, FOR UPDATE) to commit. That action looked for
  // waiting steps before this step was one and so woke nothing; the task's re-check after it is
  // delayed then runs after that commit and sees what was sent.
  const rows = await db.execute<{ task_id: string }>(sql`
    with locked as (select id from ${executions} where id = ${executionId} for key share)
    update ${executionSteps} set status = 'waiting', wake_at = ${wakeAt.toISOString()}::timestamptz, updated_at = now()
    where execution_id = ${executionId} and task_id = ${taskId} and status = 'running' and exists (select 1 from locked)
    returning task_id`);
  return rows.length > 0;
}

/** Executions by id with their status and outcome: a worker checks those it runs tasks for (cancel backstop). */
export async function findStatuses(db: Queryable, ids: string[]): Promise<Pick<ExecutionRow, 'id' | 'status' | 'outcome'>[]> {
  if (ids.length === 0) return [];
  return db.select({ id: executions.id, status: executions.status, outcome: executions.outcome }).from(executions).where(inArray(executions.id, ids));
}

/**
 * The receipts are stored: `receipt_pending` → outcome for each of these executions, in one
 * statement on the caller's transaction (the one that inserts the receipt rows). Returns the rows
 * that moved; one not `receipt_pending` (already moved) is left as it is.
 */
export async function settleReceiptsPending(db: Queryable, ids: readonly string[]): Promise<ExecutionRow[]> {
  if (ids.length === 0) return [];
  return db
    .update(executions)
    .set({ status: sql`${executions.outcome}`, outcome: null })
    .where(and(inArray(executions.id, [...ids]), eq(executions.status, 'receipt_pending'), sql`${executions.outcome} is not null`))
    .returning();
}
