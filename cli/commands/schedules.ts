import { exitCodes, usageError } from '../cli-errors.ts';
import { listValue, stringValue, type Command, type Context } from '../context.ts';
import { parseInputFlags, readInputsFile } from '../input-files.ts';
import { formatCell } from '../output.ts';
import { parseLimit } from './workflows.ts';

/** `mc schedule …`: cron (with a time zone) or fixed-interval runs of a published workflow version. */

type ScheduleView = Awaited<ReturnType<Awaited<ReturnType<Context['api']>>['trpc']['schedules']['get']['query']>>;

function printSchedule(ctx: Context, s: ScheduleView): void {
  const { out } = ctx;
  out.line(`${out.paint('bold', `schedule ${s.name}`)}  ${out.status(s.status)}`);
  out.line(`  id        ${s.id}`);
  out.line(`  workflow  ${s.workflowId}`);
  out.line(`  when      ${s.cron ? `cron "${s.cron}" in ${s.timezone}` : `every ${s.everyMs} ms`}   missed runs: ${s.missedRunPolicy}`);
  out.line(`  runs as   ${s.actorSub} (${s.actorRole})`);
  out.line(`  next      ${formatCell(s.nextFireAt)}   last ${formatCell(s.lastFiredAt)}${s.lastExecutionId ? ` → ${s.lastExecutionId}` : ''}`);
}

export const scheduleCreateCommand: Command = {
  words: ['schedule', 'create'],
  args: '<workflowId> <name>',
  minArgs: 2,
  maxArgs: 2,
  summary: 'schedule runs of a published workflow: --cron "30 2 * * *" [--tz Area/City] or --every SECONDS',
  options: {
    cron: { type: 'string', description: 'cron expression (5 fields, or 6 with seconds first)', valueName: 'EXPR' },
    tz: { type: 'string', description: 'time zone of the cron expression (default UTC)', valueName: 'ZONE' },
    every: { type: 'string', description: 'fixed interval in seconds (at least 1)', valueName: 'SECONDS' },
    missed: { type: 'string', description: 'a fire taken up late: skip, or run_once (default)', valueName: 'POLICY' },
    input: { type: 'string', multiple: true, description: 'an input: key=value (string) or key:=<json>; repeatable', valueName: 'K=V' },
    file: { type: 'string', short: 'f', description: 'inputs file (.json or .yaml object); --input flags override it', valueName: 'FILE' },
  },
  async run(ctx, { positionals, values }) {
    const cron = stringValue(values.cron);
    const every = stringValue(values.every);
    if (!cron === !every) throw usageError('give exactly one of --cron and --every');
    const everyMs = every === undefined ? undefined : Math.round(Number(every) * 1000);
    if (everyMs !== undefined && (!Number.isFinite(everyMs) || everyMs < 1000)) throw usageError('--every must be a number of seconds, at least 1');
    const missed = stringValue(values.missed);
    if (missed !== undefined && missed !== 'skip' && missed !== 'run_once') throw usageError('--missed must be skip or run_once');
    const tz = stringValue(values.tz);
    const file = stringValue(values.file);
    const inputs = parseInputFlags(listValue(values.input), file ? await readInputsFile(file) : {});
    const api = await ctx.api();
    const s = await api.call((t) =>
      t.schedules.create.mutate({
        workflowId: positionals[0]!,
        name: positionals[1]!,
        inputs,
        ...(cron ? { cron } : {}),
        ...(tz ? { timezone: tz } : {}),
        ...(everyMs !== undefined ? { everyMs } : {}),
        ...(missed ? { missedRunPolicy: missed } : {}),
      }),
    );
    ctx.out.result(s, () => {
      ctx.out.success(`created schedule ${s.name}`);
      printSchedule(ctx, s);
    });
    return exitCodes.ok;
  },
};

export const scheduleListCommand: Command = {
  words: ['schedule', 'list'],
  args: '',
  minArgs: 0,
  maxArgs: 0,
  summary: 'list schedules, newest first',
  options: {
    workflow: { type: 'string', description: 'only this workflow\'s', valueName: 'ID' },
    limit: { type: 'string', description: 'at most this many (1-200, default 50)', valueName: 'N' },
  },
  async run(ctx, { values }) {
    const workflowId = stringValue(values.workflow);
    const limit = parseLimit(stringValue(values.limit));
    const api = await ctx.api();
    const page = await api.call((t) => t.schedules.list.query({ limit, ...(workflowId ? { workflowId } : {}) }));
    ctx.out.result(page, () =>
      ctx.out.table(
        page.items.map((s) => ({ ...s, when: s.cron ? `${s.cron} (${s.timezone})` : `every ${s.everyMs} ms` })) as unknown as Record<string, unknown>[],
        [
          { key: 'id', title: 'ID' },
          { key: 'name', title: 'NAME' },
          { key: 'status', title: 'STATUS', render: (v) => ctx.out.status(String(v)) },
          { key: 'when', title: 'WHEN' },
          { key: 'nextFireAt', title: 'NEXT' },
          { key: 'lastFiredAt', title: 'LAST' },
        ],
      ),
    );
    return exitCodes.ok;
  },
};

function byIdCommand(word: 'get' | 'pause' | 'resume' | 'delete', summary: string): Command {
  return {
    words: ['schedule', word],
    args: '<scheduleId>',
    minArgs: 1,
    maxArgs: 1,
    summary,
    options: {},
    async run(ctx, { positionals }) {
      const api = await ctx.api();
      const id = positionals[0]!;
      const s = await api.call((t) =>
        word === 'get'
          ? t.schedules.get.query({ id })
          : word === 'pause'
            ? t.schedules.pause.mutate({ id })
            : word === 'resume'
              ? t.schedules.resume.mutate({ id })
              : t.schedules.delete.mutate({ id }),
      );
      ctx.out.result(s, () => printSchedule(ctx, s));
      return exitCodes.ok;
    },
  };
}

export const scheduleGetCommand = byIdCommand('get', 'show a schedule and when it fires next');
export const schedulePauseCommand = byIdCommand('pause', 'pause a schedule: it does not fire until resumed');
export const scheduleResumeCommand = byIdCommand('resume', 'resume a paused schedule');
export const scheduleDeleteCommand = byIdCommand('delete', 'delete a schedule (its past runs stay)');
