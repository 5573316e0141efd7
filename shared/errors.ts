import type { z } from 'zod';

/**
 * The one error set of MC. Services throw these; `server/http/error-mapping.ts` is the only
 * place that turns them into tRPC codes and HTTP statuses, and the CLI maps them to exit codes.
 */
export const errorCodes = [
  'VALIDATION',
  'UNAUTHORIZED',
  'FORBIDDEN',
  'POLICY_DENIED',
  'NOT_FOUND',
  'CONFLICT',
  'PAYLOAD_TOO_LARGE',
  'RATE_LIMITED',
  'UNAVAILABLE',
  'TIMEOUT',
  'INTERNAL',
] as const;
export type ErrorCode = (typeof errorCodes)[number];

export interface FieldIssue {
  /** Dotted path into the request body, e.g. `tasks.2.needs.0`; empty for the whole body. */
  path: string;
  message: string;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly issues: FieldIssue[];
  /** Safe to show the caller: never secrets, stack traces or other tenants' ids. */
  readonly details: Record<string, unknown>;
  /** Seconds, for RATE_LIMITED and UNAVAILABLE. */
  readonly retryAfterSeconds: number | undefined;
  /** For UNAUTHORIZED: the `WWW-Authenticate` challenge (RFC 6750 / RFC 9470 step-up). */
  readonly wwwAuthenticate: string | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    opts: { issues?: FieldIssue[]; details?: Record<string, unknown>; retryAfterSeconds?: number; wwwAuthenticate?: string; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'AppError';
    this.code = code;
    this.issues = opts.issues ?? [];
    this.details = opts.details ?? {};
    this.retryAfterSeconds = opts.retryAfterSeconds;
    this.wwwAuthenticate = opts.wwwAuthenticate;
  }
}

export function isAppError(e: unknown): e is AppError {
  return e instanceof AppError;
}

export function issuesFromZod(error: z.ZodError): FieldIssue[] {
  return error.issues.map((issue) => ({
    path: issue.path.map(String).join('.'),
    message: issue.message,
  }));
}

export function validationError(error: z.ZodError, what = 'request'): AppError {
  const issues = issuesFromZod(error);
  const first = issues[0];
  const summary = first ? `${first.path || what}: ${first.message}` : 'invalid';
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
  return new AppError('VALIDATION', `invalid ${what}: ${summary}${more}`, { issues });
}
