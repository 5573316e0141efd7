import type { ExecutionStatus } from './trpc.ts';

/**
 * Every execution status in the order the dashboard lists them, and which are terminal. The web
 * bundle imports no server code, so the lists are written here — but as a record keyed by the
 * server's `ExecutionStatus` type: a status added to (or removed from) the API fails `bun run
 * check` until it is placed here, instead of silently missing from filters and live updates.
 */
const terminalByStatus = {
  queued: false,
  pending: false,
  running: false,
  paused: false,
  receipt_pending: false,
  succeeded: true,
  failed: true,
  cancelled: true,
  rejected: true,
  rolled_back: true,
} as const satisfies Record<ExecutionStatus, boolean>;

export const executionStatuses = Object.keys(terminalByStatus) as ExecutionStatus[];

/** Terminal: the execution will not change again (its receipt is stored). */
export function isTerminalStatus(status: string): boolean {
  return Object.hasOwn(terminalByStatus, status) && terminalByStatus[status as ExecutionStatus];
}
