import type { TaskRunContext } from './task-context.ts';

export async function echo(ctx: TaskRunContext<Record<string, unknown>>): Promise<unknown> {
  await ctx.log('info', 'echo', { keys: Object.keys(ctx.input) });
  return ctx.input;
}
