import type { TaskRunContext } from './task-context.ts';

export async function sleep(ctx: TaskRunContext<{ ms: number }>): Promise<unknown> {
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ctx.input.ms);
    ctx.signal.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(ctx.signal.reason instanceof Error ? ctx.signal.reason : new Error('aborted'));
    }, { once: true });
  });
  return { sleptMs: ctx.input.ms };
}
