import type { TaskRunContext } from './task-context.ts';

/** Fails its first `times` attempts (every attempt when `times` is absent): for testing retries. */
export async function fail(ctx: TaskRunContext<{ times?: number; message?: string }>): Promise<unknown> {
  const times = ctx.input.times ?? Number.POSITIVE_INFINITY;
  if (ctx.attempt <= times) throw new Error(ctx.input.message ?? `failing attempt ${ctx.attempt} of ${Number.isFinite(times) ? times : 'all'}`);
  return { succeededOnAttempt: ctx.attempt };
}
