import { receiptWaitInputSchema, verifyReceiptInputSchema } from '@mc/shared/api';
import { procedure, router } from '../trpc/init.ts';
import * as service from './service.ts';

export const receiptsRouter = router({
  get: procedure.input(receiptWaitInputSchema).query(({ ctx, input }) => service.getReceipt(ctx.deps, input.executionId, input.waitMs)),
  verify: procedure.input(verifyReceiptInputSchema).mutation(({ ctx, input }) => service.verifyReceipt(ctx.deps, input.executionId)),
  keys: procedure.query(({ ctx }) => service.publicKeys(ctx.deps)),
});
