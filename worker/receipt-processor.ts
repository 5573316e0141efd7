import { UnrecoverableError, type Job } from 'bullmq';
import type { Deps } from '@mc/server/deps';
import { receiptJobSchema } from '@mc/server/queue/task-queues';
import { issueReceipt } from '@mc/server/receipts/receipt-issuer';

export function createReceiptProcessor(deps: Deps) {
  return async function processReceipt(job: Job): Promise<unknown> {
    const parsed = receiptJobSchema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`malformed receipt job ${job.id}`);
    const outcome = await issueReceipt(deps, parsed.data.executionId);
    if (outcome === 'not-terminal') throw new Error(`execution ${parsed.data.executionId} is not terminal yet`);
    return { outcome };
  };
}
