import { z } from 'zod';
import { scheduleIdInputSchema, scheduleListInputSchema } from '@mc/shared/schedules';
import { procedure, router } from '../trpc/init.ts';
import * as service from './service.ts';

/** Schedules: creating one authorises future runs, so it needs `execute`, like a start. Inputs are validated in the service. */
export const schedulesRouter = router({
  create: procedure
    .meta({ access: 'execute' })
    .input(z.unknown())
    .mutation(({ ctx, input }) => service.createSchedule(ctx.deps, input, ctx.actor)),
  pause: procedure
    .meta({ access: 'execute' })
    .input(z.unknown())
    .mutation(({ ctx, input }) => service.pauseSchedule(ctx.deps, input, ctx.actor)),
  resume: procedure
    .meta({ access: 'execute' })
    .input(z.unknown())
    .mutation(({ ctx, input }) => service.resumeSchedule(ctx.deps, input, ctx.actor)),
  delete: procedure
    .meta({ access: 'execute' })
    .input(z.unknown())
    .mutation(({ ctx, input }) => service.deleteSchedule(ctx.deps, input, ctx.actor)),
  get: procedure
    .meta({ access: 'read' })
    .input(scheduleIdInputSchema)
    .query(({ ctx, input }) => service.getSchedule(ctx.deps, input, ctx.actor)),
  list: procedure
    .meta({ access: 'read' })
    .input(scheduleListInputSchema.default({ limit: 50 }))
    .query(({ ctx, input }) => service.listSchedules(ctx.deps, input, ctx.actor)),
});
