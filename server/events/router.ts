import { tracked } from '@trpc/server';
import { auditListInputSchema, eventSubscribeInputSchema } from '@mc/shared/api';
import { procedure, router } from '../trpc/init.ts';
import * as service from './service.ts';

export const eventsRouter = router({
  /** The caller's tenant's mc.events.v1 events, oldest first, paged by `seq` (`after` = the last seq seen). */
  list: procedure
    .meta({ access: 'read' })
    .input(auditListInputSchema.default({ limit: 100, after: 0 }))
    .query(({ ctx, input }) => service.listEvents(ctx.deps, input, ctx.actor)),
  /**
   * New events as they commit, over SSE (`httpSubscriptionLink`). Each carries its `seq` as the
   * tracked id, so a reconnecting client resumes after the last event it saw (`lastEventId`).
   */
  subscribe: procedure
    .meta({ access: 'read' })
    .input(eventSubscribeInputSchema)
    .subscription(async function* ({ ctx, input, signal }) {
      const after = input.lastEventId ? Number(input.lastEventId) : input.after;
      for await (const event of service.followEvents(ctx.deps, ctx.actor, { after, type: input.type, signal })) {
        yield tracked(String(event.seq), event);
      }
    }),
});
