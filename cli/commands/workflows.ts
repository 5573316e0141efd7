import { usageError } from '../cli-errors.ts';
import { stringValue, type Command, type Context } from '../context.ts';
import { readDocument } from '../input-files.ts';
import { formatCell } from '../output.ts';

const fileOption = { file: { type: 'string' as const, short: 'f', description: 'manifest file (.yaml, .yml or .json)', valueName: 'FILE' } };

async function createFromFile(ctx: Context, file: string) {
  const manifest = await readDocument(file, 'manifest');
  const api = await ctx.api();
  return api.call((t) => t.workflows.create.mutate(manifest));
}

type WorkflowLike = { id: string; name: string; version: string; status: string; region: string; manifestDigest: string; createdAt: Date; publishedAt: Date | null };

function printWorkflow(ctx: Context, wf: WorkflowLike): void {
  const { out } = ctx;
  out.line(`${out.paint('bold', `${wf.name}@${wf.version}`)}  ${out.status(wf.status)}`);
  out.line(`  id        ${wf.id}`);
  out.line(`  region    ${wf.region}`);
  out.line(`  digest    ${wf.manifestDigest}`);
  out.line(`  created   ${formatCell(wf.createdAt)}`);
  if (wf.publishedAt) out.line(`  published ${formatCell(wf.publishedAt)}`);
}

export const workflowCreateCommand: Command = {
  words: ['workflow', 'create'],
  args: '-f <manifest>',
  minArgs: 0,
  maxArgs: 0,
  summary: 'create a draft workflow from a manifest file',
  options: fileOption,
  async run(ctx, { values }) {
    const file = stringValue(values.file);
    if (!file) throw usageError('mc workflow create needs -f <manifest.yaml|json>');
    const wf = await createFromFile(ctx, file);
    ctx.out.result(wf, () => {
      ctx.out.success(`created draft ${wf.name}@${wf.version}`);
      printWorkflow(ctx, wf);
      ctx.out.note(`next: mc workflow publish ${wf.id}`);
    });
    return 0;
  },
};

export const workflowPublishCommand: Command = {
  words: ['workflow', 'publish'],
  args: '[workflowId] [-f <manifest>]',
  minArgs: 0,
  maxArgs: 1,
  summary: 'publish a draft by id, or create and publish a manifest file in one go (-f)',
  options: fileOption,
  async run(ctx, { values, positionals }) {
    const file = stringValue(values.file);
    const given = positionals[0];
    if (!file === !given) throw usageError('mc workflow publish takes a workflow id or -f <manifest>, not both and not neither');
    const id = given ?? (await createFromFile(ctx, file!)).id;
    const api = await ctx.api();
    const wf = await api.call((t) => t.workflows.publish.mutate({ id }));
    ctx.out.result(wf, () => {
      ctx.out.success(`published ${wf.name}@${wf.version}`);
      printWorkflow(ctx, wf);
      ctx.out.note(`next: mc plan ${wf.id}   or   mc execute ${wf.id} --wait`);
    });
    return 0;
  },
};

export const workflowListCommand: Command = {
  words: ['workflow', 'list'],
  args: '',
  minArgs: 0,
  maxArgs: 0,
  summary: 'list workflows, newest first',
  options: {
    name: { type: 'string', description: 'only this name', valueName: 'NAME' },
    status: { type: 'string', description: 'draft or published', valueName: 'STATUS' },
    limit: { type: 'string', description: 'at most this many (1-200, default 50)', valueName: 'N' },
  },
  async run(ctx, { values }) {
    const status = stringValue(values.status);
    if (status !== undefined && status !== 'draft' && status !== 'published') throw usageError('--status must be draft or published');
    const limit = parseLimit(stringValue(values.limit));
    const name = stringValue(values.name);
    const api = await ctx.api();
    const page = await api.call((t) => t.workflows.list.query({ limit, ...(name ? { name } : {}), ...(status ? { status } : {}) }));
    ctx.out.result(page, () =>
      ctx.out.table(page.items as unknown as Record<string, unknown>[], [
        { key: 'id', title: 'ID' },
        { key: 'name', title: 'NAME' },
        { key: 'version', title: 'VERSION' },
        { key: 'status', title: 'STATUS', render: (v) => ctx.out.status(String(v)) },
        { key: 'region', title: 'REGION' },
        { key: 'taskCount', title: 'TASKS' },
        { key: 'createdAt', title: 'CREATED' },
      ]),
    );
    return 0;
  },
};

export const workflowGetCommand: Command = {
  words: ['workflow', 'get'],
  args: '<workflowId>',
  minArgs: 1,
  maxArgs: 1,
  summary: 'show a workflow and its tasks',
  options: {},
  async run(ctx, { positionals }) {
    const api = await ctx.api();
    const wf = await api.call((t) => t.workflows.get.query({ id: positionals[0]! }));
    ctx.out.result(wf, () => {
      printWorkflow(ctx, wf);
      ctx.out.line('  tasks');
      for (const task of wf.manifest.tasks) {
        ctx.out.line(`    ${task.id.padEnd(16)} ${task.uses}${task.needs.length > 0 ? `  needs ${task.needs.join(', ')}` : ''}`);
      }
    });
    return 0;
  },
};

export function parseLimit(raw: string | undefined, max = 200): number {
  if (raw === undefined) return 50;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > max) throw usageError(`--limit must be a whole number from 1 to ${max}`);
  return n;
}
