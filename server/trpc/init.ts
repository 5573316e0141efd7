import { initTRPC } from '@trpc/server';
import superjson from 'superjson';
import type { Actor } from '@mc/shared/actor';
import { AppError } from '@mc/shared/errors';
import type { TraceContext } from '@mc/shared/trace-context';
import { admit } from '../auth/admit.ts';
import type { AccessRule } from '../auth/authorize.ts';
import type { Deps } from '../deps.ts';
import { toAppError, toTrpcError, errorBody } from '../http/error-mapping.ts';

export interface TrpcContext {
  deps: Deps;
  request: Request;
  ip: string | undefined;
  trace: TraceContext;
}

/** Every procedure declares who may call it; the authorization middleware refuses one that does not. */
export interface ProcedureMeta {
  access: AccessRule;
}

/**
 * superjson, except that an input not in its `{json, meta}` envelope is a 400 naming the problem,
 * where superjson itself would throw a TypeError (and so a 500).
 */
const transformer = {
  input: {
    serialize: (v: unknown) => superjson.serialize(v),
    deserialize: (v: unknown) => {
      if (v === undefined) return undefined;
      if (v === null || typeof v !== 'object' || Array.isArray(v) || !('json' in v)) {
        throw new AppError('VALIDATION', 'tRPC input must be a superjson envelope: {"json": <input>}', { issues: [{ path: '', message: 'not a {json} envelope' }] });
      }
      try {
        return superjson.deserialize(v as Parameters<typeof superjson.deserialize>[0]);
      } catch (e) {
        throw new AppError('VALIDATION', 'tRPC input envelope is malformed', { issues: [{ path: 'meta', message: 'unreadable' }], cause: e });
      }
    },
  },
  output: superjson,
};

const t = initTRPC
  .context<TrpcContext>()
  .meta<ProcedureMeta>()
  .create({
    transformer,
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
    if (result.error.code === 'BAD_REQUEST' && app.code === 'VALIDATION' && !(result.error.cause instanceof SyntaxError)) return result;
    return { ...result, error: toTrpcError(app) };
  }
  return result;
});

/** Authentication, then the access pack, before any handler; the actor reaches handlers through ctx. */
const authorization = t.middleware(async ({ ctx, meta, next, path }) => {
  if (!meta?.access) throw new AppError('INTERNAL', `procedure ${path} declares no access rule`);
  if (meta.access === 'public') return next({ ctx: { actor: null as Actor | null } });
  const actor = await admit(ctx.deps, ctx.request, ctx.ip, meta.access);
  return next({ ctx: { actor } });
});

export const router = t.router;
export const publicProcedure = t.procedure.use(errorBoundary).use(authorization);
/** A procedure for an authenticated, authorized caller: declare `.meta({ access })` on each. */
export const procedure = t.procedure
  .use(errorBoundary)
  .use(authorization)
  .use(({ ctx, next }) => {
    if (!ctx.actor) throw new AppError('INTERNAL', 'a non-public procedure ran without an actor');
    return next({ ctx: { actor: ctx.actor } });
  });
export const createCallerFactory = t.createCallerFactory;
