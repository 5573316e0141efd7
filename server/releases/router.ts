import { breachInputSchema, releaseActionInputSchema, releaseIdInputSchema, releaseListInputSchema, releaseStartInputSchema } from '@mc/shared/releases';
import { z } from 'zod';
import { procedure, router } from '../trpc/init.ts';
import { getErrorBudget } from './error-budget-service.ts';
import { listIncidents } from './incident-service.ts';
import * as service from './service.ts';

export const releasesRouter = router({
  list: procedure
    .meta({ access: 'read' })
    .input(releaseListInputSchema.default({ limit: 50 }))
    .query(({ ctx, input }) => service.listReleases(ctx.deps, input, ctx.actor)),
  get: procedure
    .meta({ access: 'read' })
    .input(releaseIdInputSchema)
    .query(({ ctx, input }) => service.getRelease(ctx.deps, input.id, ctx.actor)),
  report: procedure
    .meta({ access: 'read' })
    .input(releaseIdInputSchema)
    .query(({ ctx, input }) => service.releaseReport(ctx.deps, input.id, ctx.actor)),
  start: procedure
    .meta({ access: 'execute' })
    .input(releaseStartInputSchema)
    .mutation(({ ctx, input }) => service.startRelease(ctx.deps, input, ctx.actor)),
  promote: procedure
    .meta({ access: 'execute' })
    .input(releaseActionInputSchema)
    .mutation(({ ctx, input }) => service.promoteRelease(ctx.deps, input, ctx.actor)),
  rollback: procedure
    .meta({ access: 'execute' })
    .input(releaseActionInputSchema)
    .mutation(({ ctx, input }) => service.rollbackRelease(ctx.deps, input, ctx.actor)),
  breach: procedure
    .meta({ access: 'admin' })
    .input(breachInputSchema)
    .mutation(({ ctx, input }) => service.simulateBreach(ctx.deps, input, ctx.actor)),
  errorBudget: procedure
    .meta({ access: 'read' })
    .input(z.void())
    .query(({ ctx }) => getErrorBudget(ctx.deps, ctx.actor)),
  incidents: procedure
    .meta({ access: 'read' })
    .input(z.strictObject({ limit: z.number().int().min(1).max(200).default(50) }).default({ limit: 50 }))
    .query(({ ctx, input }) => listIncidents(ctx.deps, input.limit)),
});

