import { auditListInputSchema } from '@mc/shared/api';
import { procedure, router } from '../trpc/init.ts';
import * as service from './service.ts';

export const auditRouter = router({
  list: procedure.input(auditListInputSchema.default({ limit: 100, after: 0 })).query(({ ctx, input }) => service.listAuditEvents(ctx.deps, input)),
  verify: procedure.mutation(({ ctx }) => service.verifyAudit(ctx.deps)),
});
