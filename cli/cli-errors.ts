import { TRPCClientError } from '@trpc/client';
import type { ErrorCode, FieldIssue } from '@mc/shared/errors';

/** The exit codes of `mc` (docs/cli.md). Scripts branch on these, so they never change meaning. */
export const exitCodes = {
  ok: 0,
  /** An execution failed, a verification failed, or the server could not do what was asked. */
  failed: 1,
  /** The command line or an input file is wrong (also a manifest the server rejects field by field). */
  usage: 2,
  /** Refused: POLICY_DENIED, FORBIDDEN or UNAUTHORIZED. */
  denied: 3,
  /** The server could not be reached, timed out, or is unavailable (503): retry later. */
  unreachable: 4,
} as const;
export type ExitCode = (typeof exitCodes)[keyof typeof exitCodes];

/** An error the CLI expects: a message for people, what to do next, and an exit code. */
export class CliError extends Error {
  constructor(
    readonly exitCode: ExitCode,
    message: string,
    readonly opts: { hint?: string; code?: string; issues?: FieldIssue[]; details?: Record<string, unknown> } = {},
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export function usageError(message: string, hint?: string): CliError {
  return new CliError(exitCodes.usage, message, { code: 'USAGE', ...(hint ? { hint } : {}) });
}

const exitByCode: Record<ErrorCode, ExitCode> = {
  VALIDATION: exitCodes.usage,
  UNAUTHORIZED: exitCodes.denied,
  FORBIDDEN: exitCodes.denied,
  POLICY_DENIED: exitCodes.denied,
  NOT_FOUND: exitCodes.failed,
  CONFLICT: exitCodes.failed,
  PAYLOAD_TOO_LARGE: exitCodes.usage,
  RATE_LIMITED: exitCodes.unreachable,
  UNAVAILABLE: exitCodes.unreachable,
  TIMEOUT: exitCodes.unreachable,
  INTERNAL: exitCodes.failed,
};

const hintByCode: Partial<Record<ErrorCode, string>> = {
  UNAUTHORIZED: 'log in again: mc login --server URL --token TOKEN',
  FORBIDDEN: 'ask an admin for a role that may do this, or use another profile (--profile)',
  POLICY_DENIED: 'see the reasons above; `mc plan <workflowId>` shows every policy decision before you execute',
  VALIDATION: 'fix the fields named above and run the command again',
  RATE_LIMITED: 'wait a moment and retry',
  UNAVAILABLE: 'the server or one of its backing services is down; retry shortly, or check `curl $MC_SERVER/readyz`',
  TIMEOUT: 'retry shortly',
  INTERNAL: 'the server logged the cause; retry, or report it with the time of the failure',
};

const networkCodes = new Set([
  'ConnectionRefused',
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'FailedToOpenSocket',
  'ConnectionClosed',
  'UND_ERR_SOCKET',
]);

/** Why a request never got an answer, or null if it did. */
export function networkFailure(e: unknown): string | null {
  for (let cur: unknown = e, depth = 0; cur && typeof cur === 'object' && depth < 6; cur = (cur as { cause?: unknown }).cause, depth++) {
    const { code, name } = cur as { code?: unknown; name?: unknown };
    if (name === 'TimeoutError' || name === 'AbortError') return 'timed out';
    if (typeof code === 'string' && networkCodes.has(code)) return code === 'ConnectionRefused' || code === 'ECONNREFUSED' ? 'connection refused' : code;
  }
  return null;
}

export function unreachable(server: string, why: string): CliError {
  return new CliError(exitCodes.unreachable, `cannot reach the MC server at ${server} (${why})`, {
    code: 'UNREACHABLE',
    hint: 'is it running? start one with `bun run start`, or point at another with --server URL, MC_SERVER or `mc login`',
  });
}

/** The server's error body (REST `{error}` or tRPC `data`) as a CliError. */
export function fromServerError(code: string | undefined, message: string, issues: FieldIssue[] = [], details: Record<string, unknown> = {}, status?: number): CliError {
  const known = code && code in exitByCode ? (code as ErrorCode) : undefined;
  const exitCode = known ? exitByCode[known] : status === 503 || status === 504 ? exitCodes.unreachable : exitCodes.failed;
  const hint = known ? hintByCode[known] : undefined;
  return new CliError(exitCode, message, { code: known ?? `HTTP_${status ?? '?'}`, issues, details, ...(hint ? { hint } : {}) });
}

interface TrpcErrorData {
  appCode?: string;
  issues?: FieldIssue[];
  details?: Record<string, unknown>;
  httpStatus?: number;
  code?: string;
}

/** Any failure of a call to `server` as a CliError. */
export function toCliError(e: unknown, server: string): CliError {
  if (e instanceof CliError) return e;
  const net = networkFailure(e);
  if (net) return unreachable(server, net);
  if (e instanceof TRPCClientError) {
    const data = (e.data ?? undefined) as TrpcErrorData | undefined;
    if (!data) {
      // An answer that is not tRPC's: another program on that port, or a proxy's error page.
      return new CliError(exitCodes.unreachable, `the server at ${server} did not answer as an MC server (${e.message})`, {
        code: 'BAD_RESPONSE',
        hint: 'check --server / MC_SERVER: it should be the MC server base URL, e.g. http://127.0.0.1:3000',
      });
    }
    if (data.code === 'NOT_FOUND' && !data.appCode && /No procedure found/i.test(e.message)) {
      return new CliError(exitCodes.failed, `the server at ${server} does not offer this operation (${e.message})`, {
        code: 'UNSUPPORTED',
        hint: 'the server is older than this CLI; upgrade the server',
      });
    }
    return fromServerError(data.appCode ?? data.code, e.message, data.issues ?? [], data.details ?? {}, data.httpStatus);
  }
  return new CliError(exitCodes.failed, e instanceof Error ? e.message : String(e), { code: 'ERROR' });
}
