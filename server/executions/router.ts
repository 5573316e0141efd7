import { z } from 'zod';
import { executionListInputSchema, idSchema } from '@mc/shared/api';
import { procedure, router } from '../trpc/init.ts';
import * as service from './service.ts';
import * as control from './control-service.ts';
import { eraseExecution } from '../payloads/erase-service.ts';

export const executionsRouter = router({
  /** Cryptographic erase of a finished execution's inputs and outputs (docs/data/MC_DATA_LIFECYCLE.md). */
  erase: procedure
    .meta({ access: 'admin' })
    .input(z.unknown())
    .mutation(({ ctx, input }) => eraseExecution(ctx.deps, input, ctx.actor)),
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
  /** Control (docs/architecture/execution-engine.md); inputs validated in the service so REST reports the same field paths. */
  cancel: procedure
    .meta({ access: 'execute' })
    .input(z.unknown())
    .mutation(({ ctx, input }) => control.cancelExecution(ctx.deps, input, ctx.actor)),
  pause: procedure
    .meta({ access: 'execute' })
    .input(z.unknown())
    .mutation(({ ctx, input }) => control.pauseExecution(ctx.deps, input, ctx.actor)),
  resume: procedure
    .meta({ access: 'execute' })
    .input(z.unknown())
    .mutation(({ ctx, input }) => control.resumeExecution(ctx.deps, input, ctx.actor)),
  signal: procedure
    .meta({ access: 'execute' })
    .input(z.unknown())
    .mutation(({ ctx, input }) => control.signalExecution(ctx.deps, input, ctx.actor)),
  /** Any signed-in role reaches the service, which checks the step's approver role and refuses the run's requester. */
  approve: procedure
    .meta({ access: 'read' })
    .input(z.unknown())
    .mutation(({ ctx, input }) => control.decideApproval(ctx.deps, input, ctx.actor, 'approve')),
  reject: procedure
    .meta({ access: 'read' })
    .input(z.unknown())
    .mutation(({ ctx, input }) => control.decideApproval(ctx.deps, input, ctx.actor, 'reject')),
  rerun: procedure
    .meta({ access: 'execute' })
    .input(z.unknown())
    .mutation(({ ctx, input }) => control.rerunExecution(ctx.deps, input, ctx.actor, { traceId: ctx.trace.traceId, traceparent: ctx.trace.traceparent })),
  transitions: procedure
    .meta({ access: 'read' })
    .input(z.strictObject({ id: idSchema }))
    .query(({ ctx, input }) => control.executionTransitions(ctx.deps, input.id, ctx.actor)),
});
