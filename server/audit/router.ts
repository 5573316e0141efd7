import { auditListInputSchema } from '@mc/shared/api';
import { procedure, router } from '../trpc/init.ts';
import * as service from './service.ts';

export const auditRouter = router({
  list: procedure
    .meta({ access: 'read' })
    .input(auditListInputSchema.default({ limit: 100, after: 0 }))
    .query(({ ctx, input }) => service.listAuditEvents(ctx.deps, input, ctx.actor)),
  /** Walks the whole hash chain (all tenants): an operator's check, so admin only. */
  verify: procedure.meta({ access: 'admin' }).mutation(({ ctx }) => service.verifyAudit(ctx.deps)),
});
