import { durableOf, NonRetryableTaskError, type TaskRunContext } from './task-context.ts';

/**
 * Holds the run until `approvers` distinct people with `role` approved it (the server refuses
 * the requester's own approval and checks roles when recording: server/executions/control-service.ts).
 * A rejection ends the run at once on the server; it is checked here too in case this step ran meanwhile.
 */
export async function approval(ctx: TaskRunContext<{ approvers: number; role: string; timeoutMs: number }>): Promise<unknown> {
  const durable = durableOf(ctx);
  const { approvers, timeoutMs } = ctx.input;
  const tally = await durable.approvals();
  if (tally.rejectedBy) throw new NonRetryableTaskError(`rejected by ${tally.rejectedBy.sub}`);
  if (tally.approvedBy.length >= approvers) {
    return { approvedBy: tally.approvedBy.map((a) => ({ sub: a.sub, role: a.role, at: a.at.toISOString() })), required: approvers };
  }
  const deadline = durable.startedAt.getTime() + timeoutMs;
  if (Date.now() >= deadline) throw new NonRetryableTaskError(`approval timed out after ${timeoutMs} ms with ${tally.approvedBy.length} of ${approvers} approvals`);
  await ctx.log('info', `waiting for approval: ${tally.approvedBy.length} of ${approvers}`);
  return durable.suspendUntil(new Date(deadline), async () => {
    const now = await durable.approvals();
    return now.rejectedBy !== null || now.approvedBy.length >= approvers;
  });
}
