import { z } from 'zod';
import { idSchema } from '@mc/shared/api';
import * as identity from '../identity/service.ts';
import { procedure, router } from '../trpc/init.ts';

export const authRouter = router({
  /** Who the server takes the caller to be: the dashboard hides what the role may not do. */
  me: procedure.meta({ access: 'read' }).query(({ ctx }) => ({ sub: ctx.actor.sub, role: ctx.actor.role, tenant: ctx.actor.tenantName, method: ctx.actor.method })),
  tokens: router({
    /** The token itself is in this response only; MC keeps its hash. */
    create: procedure.meta({ access: 'admin' }).input(z.unknown()).mutation(({ ctx, input }) => identity.createToken(ctx.deps, input, ctx.actor)),
    list: procedure.meta({ access: 'admin' }).query(({ ctx }) => identity.listTokens(ctx.deps, ctx.actor)),
    revoke: procedure
      .meta({ access: 'admin' })
      .input(z.strictObject({ id: idSchema }))
      .mutation(({ ctx, input }) => identity.revokeToken(ctx.deps, input.id, ctx.actor)),
  }),
  tenants: router({
    create: procedure.meta({ access: 'admin' }).input(z.unknown()).mutation(({ ctx, input }) => identity.createTenant(ctx.deps, input, ctx.actor)),
    list: procedure.meta({ access: 'admin' }).query(({ ctx }) => identity.listTenants(ctx.deps, ctx.actor)),
    delete: procedure
      .meta({ access: 'admin' })
      .input(z.strictObject({ name: identity.tenantNameSchema }))
      .mutation(({ ctx, input }) => identity.deleteTenant(ctx.deps, input.name, ctx.actor)),
  }),
});
