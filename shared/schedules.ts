import { CronExpressionParser } from 'cron-parser';
import { z } from 'zod';
import { idSchema, pageInputSchema } from './api.ts';

/**
 * Schedules: cron (in a time zone) or fixed-interval runs of a published workflow version.
 * The fire times come from one pure function, `nextFireAfter`, which is also the repeat
 * strategy BullMQ's job schedulers use (server/schedules/schedule-queue.ts), so a test with a
 * fake clock computes exactly the times production fires at.
 *
 * DST, as cron-parser (and Vixie cron) resolve it: a wall-clock time skipped by a spring-forward
 * change fires once, an hour later in wall-clock terms (02:30 → 03:30 on the day New York skips
 * 02:00–03:00); a time repeated by a fall-back change fires once, at its first occurrence.
 */

export const missedRunPolicySchema = z.enum(['skip', 'run_once']);
export type MissedRunPolicy = z.infer<typeof missedRunPolicySchema>;

/** True for a name the runtime's time-zone database knows (e.g. `America/New_York`, `UTC`). */
export function isValidTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export function cronError(cron: string, timezone: string): string | null {
  try {
    CronExpressionParser.parse(cron, { tz: timezone, strict: false });
    return null;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

const cronSchema = z.string().min(9).max(200);

export const scheduleCreateInputSchema = z
  .strictObject({
    workflowId: idSchema,
    name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,99}$/, 'must be lowercase letters, digits, ".", "_" or "-" (at most 100)'),
    /** Five or six fields (seconds first when six), e.g. `30 2 * * *`. Exactly one of cron and everyMs. */
    cron: cronSchema.optional(),
    timezone: z.string().max(100).default('UTC'),
    /** A fixed interval in milliseconds (at least one second). */
    everyMs: z.number().int().min(1000).max(366 * 86_400_000).optional(),
    inputs: z.record(z.string(), z.unknown()).default({}),
    /** What to do with a fire a worker took up late (workers down): `skip` it, or `run_once` (several missed fires collapse into one run). */
    missedRunPolicy: missedRunPolicySchema.default('run_once'),
  })
  .superRefine((s, ctx) => {
    if ((s.cron === undefined) === (s.everyMs === undefined)) ctx.addIssue({ code: 'custom', path: ['cron'], message: 'give exactly one of cron and everyMs' });
    if (!isValidTimeZone(s.timezone)) ctx.addIssue({ code: 'custom', path: ['timezone'], message: `unknown time zone "${s.timezone}"` });
    else if (s.cron !== undefined) {
      const problem = cronError(s.cron, s.timezone);
      if (problem) ctx.addIssue({ code: 'custom', path: ['cron'], message: problem });
    }
  });
export type ScheduleCreateInput = z.input<typeof scheduleCreateInputSchema>;

export const scheduleIdInputSchema = z.strictObject({ id: idSchema });
export const scheduleListInputSchema = pageInputSchema.extend({ workflowId: idSchema.optional() });

export interface ScheduleTiming {
  cron: string | null;
  timezone: string;
  everyMs: number | null;
}

/** The first fire strictly after `afterMs` (epoch ms). Pure: the same answer on every machine and clock. */
export function nextFireAfter(s: ScheduleTiming, afterMs: number): number {
  if (s.everyMs !== null) return (Math.floor(afterMs / s.everyMs) + 1) * s.everyMs;
  if (s.cron === null) throw new Error('a schedule needs cron or everyMs');
  return CronExpressionParser.parse(s.cron, { currentDate: new Date(afterMs), tz: s.timezone }).next().getTime();
}

/** Every fire in (fromMs, toMs]: what a clock moving from `fromMs` to `toMs` would fire. */
export function fireTimesBetween(s: ScheduleTiming, fromMs: number, toMs: number, max = 10_000): number[] {
  const out: number[] = [];
  for (let t = nextFireAfter(s, fromMs); t <= toMs && out.length < max; t = nextFireAfter(s, t)) out.push(t);
  return out;
}
