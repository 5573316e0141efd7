import { procedure, router } from '../trpc/init.ts';

export const authRouter = router({
  /** Who the server takes the caller to be, and their role: the dashboard hides what the role may not do. */
  me: procedure.query(({ ctx }) => ({ sub: ctx.actor.sub, role: ctx.actor.role })),
});
