import { initTRPC } from '@trpc/server';
import superjson from 'superjson';
import type { Actor } from '@mc/shared/actor';
import type { TraceContext } from '@mc/shared/trace-context';
import type { Deps } from '../deps.ts';
import { toAppError, toTrpcError, errorBody } from '../http/error-mapping.ts';

export interface TrpcContext {
  deps: Deps;
  actor: Actor;
  trace: TraceContext;
}

const t = initTRPC.context<TrpcContext>().create({
  transformer: superjson,
  // Never a stack trace in a response; the domain error's code, issues and details instead.
  isDev: false,
  errorFormatter({ shape, error }) {
    const app = toAppError(error.cause ?? error);
    const body = errorBody(app).error;
    const { stack: _stack, ...data } = shape.data as typeof shape.data & { stack?: string };
    return { ...shape, message: app.code === 'INTERNAL' ? 'internal error' : shape.message, data: { ...data, appCode: body.code, issues: body.issues ?? [], details: body.details ?? {} } };
  },
});

/** Every procedure passes here: domain errors become tRPC errors with the mapped code; the unexpected is logged. */
const errorBoundary = t.middleware(async ({ ctx, next, path }) => {
  const result = await next();
  if (!result.ok) {
    const app = toAppError(result.error.cause ?? result.error);
    if (app.code === 'INTERNAL') ctx.deps.logger.error({ err: result.error.cause ?? result.error, path }, 'procedure failed');
    if (result.error.code === 'BAD_REQUEST' && app.code === 'VALIDATION') return result;
    return { ...result, error: toTrpcError(app) };
  }
  return result;
});

export const router = t.router;
export const procedure = t.procedure.use(errorBoundary);
export const createCallerFactory = t.createCallerFactory;
