import { terminalExecutionStatuses } from '../db/schema.ts';
import type { ExecutionRow } from './repository.ts';

/**
 * An execution that ends is `receipt_pending` first, its terminal status waiting in `outcome`
 * until the receipt is stored (docs/architecture/execution-engine.md): "never succeeded without a
 * stored receipt". These read the two columns as one answer, so no caller compares statuses by hand.
 */

export type TerminalStatus = (typeof terminalExecutionStatuses)[number];
type StatusFacts = Pick<ExecutionRow, 'status' | 'outcome'>;

export function isTerminalStatus(status: string): status is TerminalStatus {
  return (terminalExecutionStatuses as readonly string[]).includes(status);
}

/**
 * The terminal status the execution has, or — while its receipt is being stored — will have;
 * null while it can still move. A terminal row is also accepted: rows finished before
 * `receipt_pending` existed may still be waiting for a receipt.
 */
export function finalStatusOf(row: StatusFacts): TerminalStatus | null {
  if (row.status === 'receipt_pending') return row.outcome;
  return isTerminalStatus(row.status) ? row.status : null;
}

/** Ended (terminal, or finished and waiting for its receipt): no control action applies any more. */
export function hasEnded(row: StatusFacts): boolean {
  return row.status === 'receipt_pending' || isTerminalStatus(row.status);
}

/** Cancelled or rejected, receipt stored or not: its running tasks must stop. */
export function stoppedAs(row: StatusFacts): 'cancelled' | 'rejected' | null {
  const final = finalStatusOf(row);
  return final === 'cancelled' || final === 'rejected' ? final : null;
}
