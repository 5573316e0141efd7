import { executionStatusSchema, terminalExecutionStatuses } from '@mc/shared/api';
import { CliError, exitCodes, usageError } from '../cli-errors.ts';
import { listValue, stringValue, type Command, type Context } from '../context.ts';
import { parseInputFlags, readInputsFile } from '../input-files.ts';
import { formatCell, spinnerFrames } from '../output.ts';
import { parseLimit } from './workflows.ts';

// `receipt_pending` (finished, receipt not stored yet) is not terminal: --wait waits through it.
const terminal = new Set<string>(terminalExecutionStatuses);
const statuses = executionStatusSchema.options;
const POLL_MS = 250;

const inputOptions = {
  input: { type: 'string' as const, multiple: true, description: 'an input: key=value (string) or key:=<json>; repeatable', valueName: 'K=V' },
  file: { type: 'string' as const, short: 'f', description: 'inputs file (.json or .yaml object); --input flags override it', valueName: 'FILE' },
  region: { type: 'string' as const, description: 'run in this region instead of the workflow\'s', valueName: 'REGION' },
};

async function inputsFrom(values: Record<string, string | boolean | string[] | undefined>): Promise<Record<string, unknown>> {
  const file = stringValue(values.file);
  return parseInputFlags(listValue(values.input), file ? await readInputsFile(file) : {});
}

export const planCommand: Command = {
  words: ['plan'],
  args: '<workflowId>',
  minArgs: 1,
  maxArgs: 1,
  summary: 'dry run: the stages, the cost estimate and every policy decision execute would get now',
  options: inputOptions,
  async run(ctx, { positionals, values }) {
    const inputs = await inputsFrom(values);
    const region = stringValue(values.region);
    const api = await ctx.api();
    const plan = await api.call((t) => t.workflows.plan.mutate({ id: positionals[0]!, inputs, ...(region ? { region } : {}) }));
    const { out } = ctx;
    out.result(plan, () => {
      out.line(`${out.paint('bold', `${plan.name}@${plan.version}`)} in ${plan.region}: ${plan.allowed ? out.paint('green', 'would be allowed') : out.paint('red', 'would be DENIED')}`);
      out.line(`  estimated cost  $${plan.costEstimateUsd}`);
      out.line('  stages');
      plan.stages.forEach((stage, i) => out.line(`    ${String(i + 1).padStart(2)}. ${stage.join(', ')}`));
      out.line('  policy decisions');
      for (const d of plan.decisions) {
        out.line(`    ${out.status(d.allow ? 'allow' : 'deny').padEnd(out.json ? 5 : 14)} ${d.pack}${d.reasons.length > 0 ? ` — ${d.reasons.join('; ')}` : ''}`);
      }
    });
    return plan.allowed ? exitCodes.ok : exitCodes.denied;
  },
};

type ExecutionView = Awaited<ReturnType<Awaited<ReturnType<Context['api']>>['trpc']['executions']['get']['query']>>;

function printExecution(ctx: Context, e: ExecutionView): void {
  const { out } = ctx;
  out.line(`${out.paint('bold', `execution ${e.id}`)}  ${out.status(e.status)}${e.outcome ? ` (${out.status(e.outcome)}; storing its receipt)` : ''}`);
  out.line(`  workflow  ${e.workflowName}@${e.workflowVersion} (${e.workflowId})`);
  out.line(`  region    ${e.region}   actor ${e.actorSub}   cost $${e.costUsd}`);
  out.line(`  created   ${formatCell(e.createdAt)}   finished ${formatCell(e.finishedAt)}`);
  if (e.error) out.line(`  error     ${out.paint('red', e.error)}`);
  if (e.steps.length > 0) {
    out.table(
      e.steps.map((s) => ({ ...s })),
      [
        { key: 'taskId', title: '  STEP', render: (v) => `  ${String(v)}` },
        { key: 'uses', title: 'USES' },
        { key: 'status', title: 'STATUS', render: (v) => out.status(String(v)) },
        { key: 'attempts', title: 'ATTEMPTS' },
        { key: 'durationMs', title: 'MS' },
        { key: 'error', title: 'ERROR' },
      ],
    );
  }
  if (e.receipt) out.line(`  receipt   ${e.receipt.digest}  ${e.receipt.verified ? out.paint('green', 'verified') : out.paint('red', 'NOT verified')}`);
}

async function waitForEnd(ctx: Context, id: string, timeoutSeconds: number): Promise<ExecutionView> {
  const api = await ctx.api();
  const started = Date.now();
  let frame = 0;
  let lastLine = '';
  for (;;) {
    const e = await api.call((t) => t.executions.get.query({ id }));
    const done = e.steps.filter((s) => s.status === 'succeeded' || s.status === 'skipped' || s.status === 'failed' || s.status === 'cancelled').length;
    const running = e.steps.filter((s) => s.status === 'running').map((s) => s.taskId);
    const elapsed = ((Date.now() - started) / 1000).toFixed(1);
    const summary = `${ctx.out.status(e.status)}${e.outcome ? ` (${e.outcome})` : ''} · ${done}/${e.steps.length} steps${running.length > 0 ? ` · running ${running.join(', ')}` : ''}`;
    if (terminal.has(e.status)) {
      ctx.out.clearProgress();
      return e;
    }
    // On a TTY the line is redrawn with a spinner; elsewhere only changes are printed.
    if (ctx.out.json) {
      // silent
    } else if (process.stderr.isTTY) {
      ctx.out.progress(`${spinnerFrames[frame++ % spinnerFrames.length]} ${summary} · ${elapsed}s`);
    } else if (summary !== lastLine) {
      ctx.out.progress(`… ${summary}`);
    }
    lastLine = summary;
    if (Date.now() - started > timeoutSeconds * 1000) {
      ctx.out.clearProgress();
      throw new CliError(exitCodes.unreachable, `execution ${id} is still ${e.status} after ${timeoutSeconds}s`, {
        code: 'WAIT_TIMEOUT',
        hint: `it keeps running on the server; follow it with: mc executions get ${id}`,
      });
    }
    await Bun.sleep(POLL_MS);
  }
}

export const executeCommand: Command = {
  words: ['execute'],
  args: '<workflowId>',
  minArgs: 1,
  maxArgs: 1,
  summary: 'start an execution of a published workflow; --wait follows it to its signed receipt',
  options: {
    ...inputOptions,
    wait: { type: 'boolean', short: 'w', description: 'wait for the end (progress on stderr); exit 1 if the execution fails' },
    timeout: { type: 'string', description: 'with --wait: give up waiting after this many seconds (default 600)', valueName: 'SECONDS' },
    'idempotency-key': { type: 'string', description: 'a second execute with the same key returns the first execution', valueName: 'KEY' },
    rollout: { type: 'string', description: 'canary or stable', valueName: 'KIND' },
    priority: { type: 'string', description: 'high, normal or low (overrides the manifest\'s)', valueName: 'LEVEL' },
  },
  async run(ctx, { positionals, values }) {
    const inputs = await inputsFrom(values);
    const region = stringValue(values.region);
    const key = stringValue(values['idempotency-key']);
    const rollout = stringValue(values.rollout);
    if (rollout !== undefined && rollout !== 'canary' && rollout !== 'stable') throw usageError('--rollout must be canary or stable');
    const priority = stringValue(values.priority);
    if (priority !== undefined && priority !== 'high' && priority !== 'normal' && priority !== 'low') throw usageError('--priority must be high, normal or low');
    const timeoutRaw = stringValue(values.timeout);
    const timeout = timeoutRaw === undefined ? 600 : Number(timeoutRaw);
    if (!Number.isFinite(timeout) || timeout <= 0) throw usageError('--timeout must be a positive number of seconds');
    const api = await ctx.api();
    const started = await api.call((t) =>
      t.executions.start.mutate({ workflowId: positionals[0]!, inputs, ...(region ? { region } : {}), ...(key ? { idempotencyKey: key } : {}), ...(rollout ? { rollout } : {}), ...(priority ? { priority } : {}) }),
    );
    if (!values.wait) {
      ctx.out.result(started, () => {
        ctx.out.success(`${started.created ? 'started' : 'already started (same idempotency key)'}: execution ${ctx.out.paint('bold', started.id)} (${started.status})`);
        ctx.out.note(`follow it: mc executions get ${started.id}   ·   mc execute … --wait`);
      });
      return 0;
    }
    ctx.out.note(`execution ${started.id} ${started.created ? 'started' : '(existing, same idempotency key)'}`);
    const finished = await waitForEnd(ctx, started.id, timeout);
    // Terminal means its receipt is stored (waitForEnd waited through receipt_pending); the wait is a guard for old servers.
    const waitMs = Math.max(0, Math.min(20_000, api.timeoutMs - 2_000));
    const receipt = await api.call((t) => t.receipts.get.query({ executionId: started.id, waitMs }));
    const final = await api.call((t) => t.executions.get.query({ id: started.id }));
    const ok = finished.status === 'succeeded';
    ctx.out.result({ ok, execution: final, receipt: { digest: receipt.digest, verified: receipt.verified, storedUri: receipt.storedUri } }, () => {
      printExecution(ctx, final);
      if (ok) ctx.out.note(`next: mc disclose ${final.id} -o pack.tgz   ·   mc receipt verify ${final.id}`);
      else ctx.out.note(`see why: mc executions logs ${final.id}`);
    });
    return ok ? exitCodes.ok : exitCodes.failed;
  },
};

export const executionsListCommand: Command = {
  words: ['executions', 'list'],
  args: '',
  minArgs: 0,
  maxArgs: 0,
  summary: 'list executions, newest first',
  options: {
    workflow: { type: 'string', description: 'only this workflow\'s', valueName: 'ID' },
    status: { type: 'string', description: `one of ${statuses.join(', ')}`, valueName: 'STATUS' },
    limit: { type: 'string', description: 'at most this many (1-200, default 50)', valueName: 'N' },
  },
  async run(ctx, { values }) {
    const status = stringValue(values.status);
    if (status !== undefined && !(statuses as readonly string[]).includes(status)) throw usageError(`--status must be one of ${statuses.join(', ')}`);
    const workflowId = stringValue(values.workflow);
    const limit = parseLimit(stringValue(values.limit));
    const api = await ctx.api();
    const page = await api.call((t) =>
      t.executions.list.query({ limit, ...(workflowId ? { workflowId } : {}), ...(status ? { status: status as (typeof statuses)[number] } : {}) }),
    );
    ctx.out.result(page, () =>
      ctx.out.table(page.items as unknown as Record<string, unknown>[], [
        { key: 'id', title: 'ID' },
        { key: 'workflowName', title: 'WORKFLOW', render: (v, r) => `${String(v)}@${String(r.workflowVersion)}` },
        { key: 'status', title: 'STATUS', render: (v) => ctx.out.status(String(v)) },
        { key: 'region', title: 'REGION' },
        { key: 'createdAt', title: 'CREATED' },
        { key: 'costUsd', title: 'COST $' },
      ]),
    );
    return 0;
  },
};

export const executionsGetCommand: Command = {
  words: ['executions', 'get'],
  args: '<executionId>',
  minArgs: 1,
  maxArgs: 1,
  summary: 'show an execution, its steps and its receipt',
  options: {},
  async run(ctx, { positionals }) {
    const api = await ctx.api();
    const e = await api.call((t) => t.executions.get.query({ id: positionals[0]! }));
    ctx.out.result(e, () => printExecution(ctx, e));
    return 0;
  },
};

export const executionsLogsCommand: Command = {
  words: ['executions', 'logs'],
  args: '<executionId>',
  minArgs: 1,
  maxArgs: 1,
  summary: 'print an execution\'s step logs (redacted), oldest first; NDJSON with --json',
  options: {},
  async run(ctx, { positionals }) {
    const api = await ctx.api();
    const id = positionals[0]!;
    for (let after = 0; ; ) {
      const page = await api.call((t) => t.executions.logs.query({ id, after, limit: 1000 }));
      for (const l of page) {
        if (ctx.out.json) ctx.out.line(JSON.stringify(l));
        else {
          const level = l.level === 'error' ? ctx.out.paint('red', l.level) : l.level === 'warn' ? ctx.out.paint('yellow', l.level) : ctx.out.paint('gray', l.level);
          ctx.out.line(`${ctx.out.paint('gray', l.ts)} ${level.padEnd(5)} ${l.taskId ?? '-'}${l.attempt ? `#${l.attempt}` : ''} ${l.message}${l.data ? ` ${JSON.stringify(l.data)}` : ''}`);
        }
      }
      if (page.length < 1000) return 0;
      after = page[page.length - 1]!.id;
    }
  },
};
