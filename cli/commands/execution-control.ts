import { exitCodes, usageError } from '../cli-errors.ts';
import { stringValue, type Command } from '../context.ts';
import { readDocument } from '../input-files.ts';

/** Operator control of an execution: cancel, pause, resume, signal, approve, reject, rerun (docs/cli.md). */

const reason = { reason: { type: 'string' as const, description: 'why (recorded with the transition)', valueName: 'TEXT' } };

function controlCommand(word: 'cancel' | 'pause' | 'resume', summary: string): Command {
  return {
    words: ['executions', word],
    args: '<executionId>',
    minArgs: 1,
    maxArgs: 1,
    summary,
    options: reason,
    async run(ctx, { positionals, values }) {
      const api = await ctx.api();
      const text = stringValue(values.reason);
      const input = { id: positionals[0]!, ...(text ? { reason: text } : {}) };
      const e = await api.call((t) => (word === 'cancel' ? t.executions.cancel.mutate(input) : word === 'pause' ? t.executions.pause.mutate(input) : t.executions.resume.mutate(input)));
      ctx.out.result(e, () => ctx.out.success(`execution ${e.id} is ${ctx.out.status(e.status)}`));
      return exitCodes.ok;
    },
  };
}

export const executionsCancelCommand = controlCommand('cancel', 'cancel an execution: running tasks are told to stop (grace period); it ends cancelled, with a receipt');
export const executionsPauseCommand = controlCommand('pause', 'pause an execution: no new task starts, running ones finish');
export const executionsResumeCommand = controlCommand('resume', 'resume a paused execution');

function approvalCommand(decision: 'approve' | 'reject'): Command {
  return {
    words: ['executions', decision],
    args: '<executionId>',
    minArgs: 1,
    maxArgs: 1,
    summary: decision === 'approve' ? 'approve a waiting approval step (not your own run)' : 'reject a waiting approval step: the run ends rejected',
    options: {
      task: { type: 'string', description: 'the approval step, when more than one is waiting', valueName: 'TASK' },
      comment: { type: 'string', description: 'recorded with the decision and in the receipt', valueName: 'TEXT' },
    },
    async run(ctx, { positionals, values }) {
      const api = await ctx.api();
      const taskId = stringValue(values.task);
      const comment = stringValue(values.comment);
      const input = { id: positionals[0]!, ...(taskId ? { taskId } : {}), ...(comment ? { comment } : {}) };
      const r = await api.call((t) => (decision === 'approve' ? t.executions.approve.mutate(input) : t.executions.reject.mutate(input)));
      ctx.out.result(r, () => ctx.out.success(`${decision === 'approve' ? 'approved' : 'rejected'} ${r.taskId} of ${r.executionId}: ${r.approvals} of ${r.required} approvals, execution ${ctx.out.status(r.status)}`));
      return exitCodes.ok;
    },
  };
}

export const executionsApproveCommand = approvalCommand('approve');
export const executionsRejectCommand = approvalCommand('reject');

export const executionsSignalCommand: Command = {
  words: ['executions', 'signal'],
  args: '<executionId> <event>',
  minArgs: 2,
  maxArgs: 2,
  summary: 'send a named event (with --key and a JSON payload) to an execution; waiting wait-for-event steps resume',
  options: {
    key: { type: 'string', description: 'the key the wait-for-event step waits for (default empty)', valueName: 'KEY' },
    payload: { type: 'string', description: 'JSON payload (the step\'s output)', valueName: 'JSON' },
    'payload-file': { type: 'string', description: 'payload from a .json or .yaml file', valueName: 'FILE' },
  },
  async run(ctx, { positionals, values }) {
    const raw = stringValue(values.payload);
    const file = stringValue(values['payload-file']);
    if (raw && file) throw usageError('give --payload or --payload-file, not both');
    let payload: unknown;
    if (raw) {
      try {
        payload = JSON.parse(raw);
      } catch (e) {
        throw usageError(`--payload is not JSON: ${e instanceof Error ? e.message : String(e)}`);
      }
    } else if (file) payload = await readDocument(file, 'payload');
    const key = stringValue(values.key);
    const api = await ctx.api();
    const r = await api.call((t) => t.executions.signal.mutate({ id: positionals[0]!, event: positionals[1]!, ...(key !== undefined ? { key } : {}), ...(payload !== undefined ? { payload } : {}) }));
    ctx.out.result(r, () => ctx.out.success(`sent ${r.event}${r.key ? ` (key ${r.key})` : ''} to ${r.executionId}; ${r.woken} waiting step(s) woken`));
    return exitCodes.ok;
  },
};

export const executionsRerunCommand: Command = {
  words: ['executions', 'rerun'],
  args: '<executionId>',
  minArgs: 1,
  maxArgs: 1,
  summary: 'rerun a failed, cancelled or rejected execution from where it stopped (succeeded steps are reused)',
  options: {},
  async run(ctx, { positionals }) {
    const api = await ctx.api();
    const e = await api.call((t) => t.executions.rerun.mutate({ id: positionals[0]! }));
    ctx.out.result(e, () => {
      ctx.out.success(`rerun started: execution ${ctx.out.paint('bold', e.id)} (${e.status}), continuing ${e.rerunOf ?? '?'}`);
      ctx.out.note(`follow it: mc executions get ${e.id}`);
    });
    return exitCodes.ok;
  },
};

export const executionsTransitionsCommand: Command = {
  words: ['executions', 'history'],
  args: '<executionId>',
  minArgs: 1,
  maxArgs: 1,
  summary: 'the execution\'s recorded control transitions (queued, paused, cancelled, approvals, signals…)',
  options: {},
  async run(ctx, { positionals }) {
    const api = await ctx.api();
    const rows = await api.call((t) => t.executions.transitions.query({ id: positionals[0]! }));
    ctx.out.result(rows, () =>
      ctx.out.table(rows as unknown as Record<string, unknown>[], [
        { key: 'at', title: 'AT' },
        { key: 'type', title: 'TRANSITION' },
        { key: 'from', title: 'FROM' },
        { key: 'to', title: 'TO' },
        { key: 'actorSub', title: 'BY' },
      ]),
    );
    if (rows.length === 0 && !ctx.out.json) ctx.out.note('no control transitions recorded');
    return exitCodes.ok;
  },
};
