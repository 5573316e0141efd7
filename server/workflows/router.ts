import { z } from 'zod';
import { idSchema, workflowListInputSchema } from '@mc/shared/api';
import { procedure, router } from '../trpc/init.ts';
import * as service from './service.ts';

export const workflowsRouter = router({
  /** Input is a manifest; validated in the service so REST and tRPC report the same field paths. */
  create: procedure.input(z.unknown()).mutation(({ ctx, input }) => service.createWorkflow(ctx.deps, input, ctx.actor)),
  update: procedure
    .input(z.strictObject({ id: idSchema, manifest: z.unknown() }))
    .mutation(({ ctx, input }) => service.updateDraft(ctx.deps, input.id, input.manifest)),
  publish: procedure.input(z.strictObject({ id: idSchema })).mutation(({ ctx, input }) => service.publishWorkflow(ctx.deps, input.id, ctx.actor)),
  /** Dry run: stages, cost estimate and every policy decision; input `{id, inputs?, region?}`. */
  plan: procedure.input(z.unknown()).mutation(({ ctx, input }) => service.planWorkflow(ctx.deps, input, ctx.actor)),
  get: procedure.input(z.strictObject({ id: idSchema })).query(({ ctx, input }) => service.getWorkflow(ctx.deps, input.id)),
  list: procedure.input(workflowListInputSchema.default({ limit: 50 })).query(({ ctx, input }) => service.listWorkflows(ctx.deps, input)),
});
