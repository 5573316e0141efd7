import { z } from 'zod';
import { executionListInputSchema, idSchema } from '@mc/shared/api';
import { procedure, router } from '../trpc/init.ts';
import * as service from './service.ts';

export const executionsRouter = router({
  start: procedure
    .meta({ access: 'execute' })
    .input(z.unknown())
    .mutation(async ({ ctx, input }) => {
      const { execution, created } = await service.startExecution(ctx.deps, input, ctx.actor, { traceId: ctx.trace.traceId, traceparent: ctx.trace.traceparent });
      return { ...execution, created };
    }),
  get: procedure
    .meta({ access: 'read' })
    .input(z.strictObject({ id: idSchema }))
    .query(({ ctx, input }) => service.getExecution(ctx.deps, input.id, ctx.actor)),
  list: procedure
    .meta({ access: 'read' })
    .input(executionListInputSchema.default({ limit: 50 }))
    .query(({ ctx, input }) => service.listExecutions(ctx.deps, input, ctx.actor)),
  logs: procedure
    .meta({ access: 'read' })
    .input(z.strictObject({ id: idSchema, after: z.number().int().min(0).optional(), limit: z.number().int().min(1).max(10_000).optional() }))
    .query(({ ctx, input }) => service.executionLogs(ctx.deps, input.id, ctx.actor, input)),
});
