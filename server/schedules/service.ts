import type { Actor } from '@mc/shared/actor';
import { roleSchema } from '@mc/shared/actor';
import { AppError, validationError } from '@mc/shared/errors';
import { nextFireAfter, scheduleCreateInputSchema, scheduleIdInputSchema, scheduleListInputSchema, type MissedRunPolicy } from '@mc/shared/schedules';
import type { z } from 'zod';
import type { Deps } from '../deps.ts';
import { recordTransition } from '../executions/transitions.ts';
import { startExecution } from '../executions/service.ts';
import { decodeCursor, toPage, type Page } from '../http/cursor.ts';
import { findTenant } from '../identity/repository.ts';
import { findWorkflow } from '../workflows/repository.ts';
import * as repo from './repository.ts';

/**
 * Schedules of published workflow versions. The row in Postgres is the truth (who created it,
 * its timing, inputs, status); a BullMQ job scheduler per active schedule (id = schedule id) makes
 * the fire jobs, and `fireSchedule` turns each into an ordinary execution through `startExecution`
 * — so policy, quotas and concurrency limits apply — acting as the schedule's creator.
 *
 * Missed runs (docs/architecture/execution-engine.md): BullMQ keeps one pending fire per
 * scheduler, so while no worker runs, fires do not pile up; the one taken up late (later than
 * MC_SCHEDULE_MISFIRE_MS) is skipped under `skip`, or run once under `run_once`.
 */

export interface ScheduleView {
  id: string;
  workflowId: string;
  name: string;
  cron: string | null;
  timezone: string;
  everyMs: number | null;
  inputs: unknown;
  missedRunPolicy: MissedRunPolicy;
  status: repo.ScheduleRow['status'];
  /** The creator; runs act as them. */
  actorSub: string;
  actorRole: string;
  createdAt: Date;
  updatedAt: Date;
  lastFiredAt: Date | null;
  lastExecutionId: string | null;
  /** When it fires next (null while paused). */
  nextFireAt: Date | null;
}

function view(row: repo.ScheduleRow, now = Date.now()): ScheduleView {
  return {
    id: row.id,
    workflowId: row.workflowId,
    name: row.name,
    cron: row.cron,
    timezone: row.timezone,
    everyMs: row.everyMs,
    inputs: row.inputs,
    missedRunPolicy: row.missedRunPolicy,
    status: row.status,
    actorSub: row.actorSub,
    actorRole: row.actorRole,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    lastFiredAt: row.lastFiredAt,
    lastExecutionId: row.lastExecutionId,
    nextFireAt: row.status === 'active' ? new Date(nextFireAfter(row, now)) : null,
  };
}

function parse<T extends z.ZodType>(schema: T, raw: unknown, what: string): z.output<T> {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw validationError(parsed.error, what);
  return parsed.data;
}

/** Creates or replaces the schedule's BullMQ job scheduler. */
export async function installScheduler(deps: Pick<Deps, 'queues'>, row: repo.ScheduleRow): Promise<void> {
  await deps.queues.schedules().upsertJobScheduler(row.id, row.cron ? { pattern: row.cron, tz: row.timezone } : { every: row.everyMs! }, {
    name: 'fire',
    data: { scheduleId: row.id },
    opts: { removeOnComplete: { age: 3600, count: 100 }, removeOnFail: { age: 24 * 3600, count: 100 } },
  });
}

async function uninstallScheduler(deps: Pick<Deps, 'queues'>, id: string): Promise<void> {
  await deps.queues.schedules().removeJobScheduler(id);
}

export async function createSchedule(deps: Deps, raw: unknown, actor: Actor): Promise<ScheduleView> {
  const input = parse(scheduleCreateInputSchema, raw, 'schedule');
  const wf = await findWorkflow(deps.db, input.workflowId, { tenantId: actor.tenantId });
  if (!wf) throw new AppError('NOT_FOUND', `workflow ${input.workflowId} not found`);
  if (wf.status !== 'published') throw new AppError('CONFLICT', `workflow ${wf.name}@${wf.version} is a draft; only a published version can be scheduled`);
  const inputBytes = Buffer.byteLength(JSON.stringify(input.inputs), 'utf8');
  if (inputBytes > deps.config.MC_MAX_INPUT_BYTES) throw new AppError('PAYLOAD_TOO_LARGE', `inputs are ${inputBytes} bytes; the limit is ${deps.config.MC_MAX_INPUT_BYTES}`);
  const row = await deps.db.transaction(async (tx) => {
    const row = await repo.insertSchedule(tx, {
      tenantId: actor.tenantId,
      workflowId: wf.id,
      name: input.name,
      cron: input.cron ?? null,
      timezone: input.timezone,
      everyMs: input.everyMs ?? null,
      inputs: input.inputs,
      missedRunPolicy: input.missedRunPolicy,
      actorSub: actor.sub,
      actorRole: actor.role,
    });
    await recordTransition(tx, { type: 'mc.schedule.created', tenantId: actor.tenantId, scheduleId: row.id, to: 'active', actorSub: actor.sub, data: { workflowId: wf.id, cron: row.cron, timezone: row.timezone, everyMs: row.everyMs } });
    return row;
  });
  // Committed first: if Redis is down now, the sweeper installs the scheduler when it is back.
  await installScheduler(deps, row).catch((err: unknown) => deps.logger.warn({ err, scheduleId: row.id }, 'job scheduler not installed yet; the sweeper will'));
  return view(row);
}

async function changeStatus(deps: Deps, raw: unknown, actor: Actor, to: 'active' | 'paused' | 'deleted'): Promise<ScheduleView> {
  const { id } = parse(scheduleIdInputSchema, raw, 'schedule id');
  const type = to === 'active' ? 'mc.schedule.resumed' : to === 'paused' ? 'mc.schedule.paused' : 'mc.schedule.deleted';
  const row = await deps.db.transaction(async (tx) => {
    const row = await repo.findSchedule(tx, id, actor.tenantId, { forUpdate: true });
    if (!row) throw new AppError('NOT_FOUND', `schedule ${id} not found`);
    if (to === 'active' && row.status !== 'paused') throw new AppError('CONFLICT', `schedule ${id} is ${row.status}; only a paused schedule resumes`);
    if (to === 'paused' && row.status !== 'active') throw new AppError('CONFLICT', `schedule ${id} is ${row.status}; only an active schedule pauses`);
    const updated = await repo.updateSchedule(tx, id, { status: to });
    await recordTransition(tx, { type, tenantId: row.tenantId, scheduleId: id, from: row.status, to, actorSub: actor.sub });
    return updated;
  });
  if (to === 'active') await installScheduler(deps, row);
  else await uninstallScheduler(deps, id);
  return view(row);
}

export const pauseSchedule = (deps: Deps, raw: unknown, actor: Actor) => changeStatus(deps, raw, actor, 'paused');
export const resumeSchedule = (deps: Deps, raw: unknown, actor: Actor) => changeStatus(deps, raw, actor, 'active');
export const deleteSchedule = (deps: Deps, raw: unknown, actor: Actor) => changeStatus(deps, raw, actor, 'deleted');

export async function getSchedule(deps: Deps, raw: unknown, actor: Pick<Actor, 'tenantId'>): Promise<ScheduleView> {
  const { id } = parse(scheduleIdInputSchema, raw, 'schedule id');
  const row = await repo.findSchedule(deps.db, id, actor.tenantId);
  if (!row) throw new AppError('NOT_FOUND', `schedule ${id} not found`);
  return view(row);
}

export async function listSchedules(deps: Deps, raw: unknown, actor: Pick<Actor, 'tenantId'>): Promise<Page<ScheduleView>> {
  const input = parse(scheduleListInputSchema, raw ?? {}, 'schedule list');
  const rows = await repo.listSchedules(deps.db, { tenantId: actor.tenantId, limit: input.limit, after: decodeCursor(input.cursor), workflowId: input.workflowId });
  const now = Date.now();
  return toPage(rows, input.limit, (r) => view(r, now));
}

export type FireOutcome =
  | { outcome: 'started'; executionId: string; created: boolean }
  | { outcome: 'skipped'; reason: 'not-active' | 'missed' | 'tenant-deleted' }
  | { outcome: 'refused'; reason: string };

/**
 * One fire of a schedule at `fireAtMs`, taken up at `nowMs`. Starts the run as the schedule's
 * creator, with an idempotency key per fire (`schedule:<id>:<fire time>`), so a fire job
 * delivered twice starts one execution. A refusal (policy, quota) is recorded, not retried.
 */
export async function fireSchedule(deps: Deps, scheduleId: string, fireAtMs: number, nowMs = Date.now()): Promise<FireOutcome> {
  const row = await repo.findSchedule(deps.db, scheduleId);
  if (!row || row.status !== 'active') return { outcome: 'skipped', reason: 'not-active' };
  const late = nowMs - fireAtMs > deps.config.MC_SCHEDULE_MISFIRE_MS;
  const fireAt = new Date(fireAtMs).toISOString();
  if (late && row.missedRunPolicy === 'skip') {
    await deps.db.transaction((tx) => recordTransition(tx, { type: 'mc.schedule.fired', tenantId: row.tenantId, scheduleId, actorSub: 'mc:scheduler', data: { fireAt, outcome: 'skipped', reason: 'missed' } }));
    return { outcome: 'skipped', reason: 'missed' };
  }
  const tenant = await findTenant(deps.db, row.tenantId);
  if (!tenant || tenant.deletedAt) return { outcome: 'skipped', reason: 'tenant-deleted' };
  const role = roleSchema.safeParse(row.actorRole);
  const actor: Actor = { sub: row.actorSub, role: role.success ? role.data : 'viewer', tenantId: row.tenantId, tenantName: tenant.name, method: 'system', stepUp: true };
  try {
    const { execution, created } = await startExecution(deps, { workflowId: row.workflowId, inputs: row.inputs, idempotencyKey: `schedule:${scheduleId}:${fireAt}` }, actor, { scheduleId });
    await deps.db.transaction(async (tx) => {
      await repo.updateSchedule(tx, scheduleId, { lastFiredAt: new Date(fireAtMs), lastExecutionId: execution.id });
      if (created) {
        await recordTransition(tx, { type: 'mc.schedule.fired', tenantId: row.tenantId, scheduleId, execution: { id: execution.id, tenantId: row.tenantId }, actorSub: 'mc:scheduler', data: { fireAt, outcome: 'started', late } });
      }
    });
    return { outcome: 'started', executionId: execution.id, created };
  } catch (e) {
    if (!(e instanceof AppError) || e.code === 'INTERNAL' || e.code === 'UNAVAILABLE') throw e;
    await deps.db.transaction((tx) => recordTransition(tx, { type: 'mc.schedule.fired', tenantId: row.tenantId, scheduleId, actorSub: 'mc:scheduler', data: { fireAt, outcome: 'refused', code: e.code, message: e.message } }));
    return { outcome: 'refused', reason: `${e.code}: ${e.message}` };
  }
}

/** Sweeper: every active schedule has its job scheduler, and no other schedule has one. */
export async function syncSchedulers(deps: Deps): Promise<{ installed: number; removed: number }> {
  const queue = deps.queues.schedules();
  const installed = new Set((await queue.getJobSchedulers(0, 10_000)).map((s) => s.key));
  const active = await repo.listActiveSchedules(deps.db, 10_000);
  let added = 0;
  for (const row of active) {
    if (installed.has(row.id)) continue;
    await installScheduler(deps, row);
    added++;
  }
  const activeIds = new Set(active.map((r) => r.id));
  let removed = 0;
  for (const key of installed) {
    if (activeIds.has(key)) continue;
    await uninstallScheduler(deps, key);
    removed++;
  }
  return { installed: added, removed };
}
