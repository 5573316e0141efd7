import { z } from 'zod';
import { idSchema, workflowListInputSchema } from '@mc/shared/api';
import { procedure, router } from '../trpc/init.ts';
import * as service from './service.ts';

export const workflowsRouter = router({
  /** Input is a manifest; validated in the service so REST and tRPC report the same field paths. */
  create: procedure
    .meta({ access: 'create' })
    .input(z.unknown())
    .mutation(({ ctx, input }) => service.createWorkflow(ctx.deps, input, ctx.actor)),
  update: procedure
    .meta({ access: 'create' })
    .input(z.strictObject({ id: idSchema, manifest: z.unknown() }))
    .mutation(({ ctx, input }) => service.updateDraft(ctx.deps, input.id, input.manifest, ctx.actor)),
  publish: procedure
    .meta({ access: 'publish' })
    .input(z.strictObject({ id: idSchema }))
    .mutation(({ ctx, input }) => service.publishWorkflow(ctx.deps, input.id, ctx.actor)),
  /** Dry run: stages, cost estimate and every policy decision; input `{id, inputs?, region?}`. */
  plan: procedure
    .meta({ access: 'plan' })
    .input(z.unknown())
    .mutation(({ ctx, input }) => service.planWorkflow(ctx.deps, input, ctx.actor)),
  get: procedure
    .meta({ access: 'read' })
    .input(z.strictObject({ id: idSchema }))
    .query(({ ctx, input }) => service.getWorkflow(ctx.deps, input.id, ctx.actor)),
  list: procedure
    .meta({ access: 'read' })
    .input(workflowListInputSchema.default({ limit: 50 }))
    .query(({ ctx, input }) => service.listWorkflows(ctx.deps, input, ctx.actor)),
});
