import { TRPCError, type TRPC_ERROR_CODE_KEY } from '@trpc/server';
import { z } from 'zod';
import { AppError, isAppError, validationError, type ErrorCode } from '@mc/shared/errors';

/** The one place where MC's error set meets HTTP statuses and tRPC codes. */
export const httpStatusOf: Record<ErrorCode, number> = {
  VALIDATION: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  POLICY_DENIED: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  UNAVAILABLE: 503,
  TIMEOUT: 504,
  INTERNAL: 500,
};

export const trpcCodeOf: Record<ErrorCode, TRPC_ERROR_CODE_KEY> = {
  VALIDATION: 'BAD_REQUEST',
  UNAUTHORIZED: 'UNAUTHORIZED',
  FORBIDDEN: 'FORBIDDEN',
  POLICY_DENIED: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  RATE_LIMITED: 'TOO_MANY_REQUESTS',
  UNAVAILABLE: 'SERVICE_UNAVAILABLE',
  TIMEOUT: 'GATEWAY_TIMEOUT',
  INTERNAL: 'INTERNAL_SERVER_ERROR',
};

// Postgres classes 08 (connection), 53 (resources), 57P (operator intervention: shutdown, terminate).
const unavailableSqlState = /^(08|53|57P)/;
const unavailableErrno = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECT_TIMEOUT', 'CONNECTION_DESTROYED']);

/** Any thrown value as an AppError; unknown failures become a generic INTERNAL (the cause is logged, never sent). */
export function toAppError(e: unknown): AppError {
  if (isAppError(e)) return e;
  if (e instanceof TRPCError && isAppError(e.cause)) return e.cause;
  if (e instanceof z.ZodError) return validationError(e);
  if (e instanceof TRPCError && e.cause instanceof z.ZodError) return validationError(e.cause);
  // tRPC's own refusals of a malformed call (unparseable body, unknown procedure, wrong method).
  if (e instanceof TRPCError && trpcClientErrors[e.code]) return new AppError(trpcClientErrors[e.code]!, clientMessage(e));
  if (e instanceof SyntaxError) return new AppError('VALIDATION', 'request body is not valid JSON', { issues: [{ path: '', message: 'malformed JSON' }] });
  if (hasSqlState(e, invalidDataSqlState)) return new AppError('VALIDATION', 'a value cannot be stored as given (e.g. a NUL character in text)', { cause: e });
  if (isUnavailable(e)) return new AppError('UNAVAILABLE', 'a backing service (database or queue) is unavailable; retry shortly', { retryAfterSeconds: 2, cause: e });
  return new AppError('INTERNAL', 'internal error', { cause: e });
}

const trpcClientErrors: Partial<Record<TRPC_ERROR_CODE_KEY, ErrorCode>> = {
  PARSE_ERROR: 'VALIDATION',
  BAD_REQUEST: 'VALIDATION',
  NOT_FOUND: 'NOT_FOUND',
  METHOD_NOT_SUPPORTED: 'VALIDATION',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  UNSUPPORTED_MEDIA_TYPE: 'VALIDATION',
  UNPROCESSABLE_CONTENT: 'VALIDATION',
};

function clientMessage(e: TRPCError): string {
  return e.cause instanceof SyntaxError ? 'request body is not valid JSON' : e.message.slice(0, 300);
}

// 22P05 untranslatable character (NUL in jsonb), 22021 bad byte sequence, 22P02 invalid text representation.
const invalidDataSqlState = /^(22P05|22021|22P02)$/;

function hasSqlState(e: unknown, pattern: RegExp): boolean {
  for (let cur: unknown = e, depth = 0; cur && typeof cur === 'object' && depth < 5; cur = (cur as { cause?: unknown }).cause, depth++) {
    const { code } = cur as { code?: unknown };
    if (typeof code === 'string' && pattern.test(code)) return true;
  }
  return false;
}

function isUnavailable(e: unknown): boolean {
  for (let cur: unknown = e, depth = 0; cur && typeof cur === 'object' && depth < 5; cur = (cur as { cause?: unknown }).cause, depth++) {
    const { code, message } = cur as { code?: unknown; message?: unknown };
    if (typeof code === 'string' && (unavailableErrno.has(code) || unavailableSqlState.test(code))) return true;
    if (typeof message === 'string' && /Connection is closed|Stream isn't writeable|MaxRetriesPerRequest|enableOfflineQueue/.test(message)) return true;
  }
  return false;
}

export interface ErrorBody {
  error: { code: ErrorCode; message: string; issues?: { path: string; message: string }[]; details?: Record<string, unknown> };
}

export function errorBody(e: AppError): ErrorBody {
  return {
    error: {
      code: e.code,
      message: e.message,
      ...(e.issues.length > 0 ? { issues: e.issues } : {}),
      ...(Object.keys(e.details).length > 0 ? { details: e.details } : {}),
    },
  };
}

export function toTrpcError(e: AppError): TRPCError {
  return new TRPCError({ code: trpcCodeOf[e.code], message: e.message, cause: e });
}
