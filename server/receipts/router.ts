import { receiptWaitInputSchema, verifyReceiptInputSchema } from '@mc/shared/api';
import { procedure, publicProcedure, router } from '../trpc/init.ts';
import * as service from './service.ts';

export const receiptsRouter = router({
  get: procedure
    .meta({ access: 'read' })
    .input(receiptWaitInputSchema)
    .query(({ ctx, input }) => service.getReceipt(ctx.deps, input.executionId, ctx.actor, input.waitMs)),
  verify: procedure
    .meta({ access: 'read' })
    .input(verifyReceiptInputSchema)
    .mutation(({ ctx, input }) => service.verifyReceipt(ctx.deps, input.executionId, ctx.actor)),
  /** Public keys are public: anyone verifying a receipt offline needs them. */
  keys: publicProcedure.meta({ access: 'public' }).query(({ ctx }) => service.publicKeys(ctx.deps)),
});
