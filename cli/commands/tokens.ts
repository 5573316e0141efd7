import { roleSchema } from '@mc/shared/actor';
import { exitCodes, usageError } from '../cli-errors.ts';
import { stringValue, type Command } from '../context.ts';

/**
 * `mc tokens …`: API tokens, for admins (`auth.tokens.*`, server/identity/service.ts). The secret
 * is in the create response only — the server keeps its hash — so `create` is the one chance to
 * see it; `list` shows the prefix.
 */

const roles = roleSchema.options;

function parseExpiresDays(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const days = Number(raw);
  // The same bounds as createTokenInputSchema, checked here so the message names the flag.
  if (!Number.isInteger(days) || days < 1 || days > 3650) throw usageError('--expires-days must be a whole number of days from 1 to 3650');
  return days;
}

export const tokensCreateCommand: Command = {
  words: ['tokens', 'create'],
  args: '--name NAME --role ROLE [--expires-days D] [--tenant T]',
  minArgs: 0,
  maxArgs: 0,
  summary: 'make an API token (admin); the token is printed once and cannot be shown again',
  options: {
    name: { type: 'string', description: 'what the token is for, e.g. "ci-deploy" (required)', valueName: 'NAME' },
    role: { type: 'string', description: `its role: ${roles.join(', ')} (required)`, valueName: 'ROLE' },
    'expires-days': { type: 'string', description: 'stops working after this many days (1-3650; default: never)', valueName: 'D' },
    tenant: { type: 'string', description: 'make it for another tenant, by name (admins of the default tenant only)', valueName: 'T' },
  },
  async run(ctx, { values }) {
    const name = stringValue(values.name);
    if (!name) throw usageError('mc tokens create needs --name', 'usage: mc tokens create --name NAME --role ROLE [--expires-days D] [--tenant T]');
    const role = roleSchema.safeParse(stringValue(values.role));
    if (!role.success) throw usageError(`--role must be one of: ${roles.join(', ')}`);
    const expiresInDays = parseExpiresDays(stringValue(values['expires-days']));
    const tenant = stringValue(values.tenant);
    const api = await ctx.api();
    const t = await api.call((trpc) =>
      trpc.auth.tokens.create.mutate({ name, role: role.data, ...(expiresInDays !== undefined ? { expiresInDays } : {}), ...(tenant ? { tenant } : {}) }),
    );
    ctx.out.result(t, () => {
      const { out } = ctx;
      out.success(`created token ${t.name} (${t.role})`);
      out.line(`  id       ${t.id}`);
      out.line(`  expires  ${t.expiresAt ? t.expiresAt.toISOString() : 'never'}`);
      out.line('');
      out.line(out.paint('yellow', 'Store this token now: it is shown only this once and cannot be retrieved later.'));
      out.line(t.token);
    });
    return exitCodes.ok;
  },
};

export const tokensListCommand: Command = {
  words: ['tokens', 'list'],
  args: '',
  minArgs: 0,
  maxArgs: 0,
  summary: 'list the API tokens of your tenant (admin): name, role, prefix, expiry, last use; never the secret',
  options: {},
  async run(ctx) {
    const api = await ctx.api();
    const tokens = await api.call((t) => t.auth.tokens.list.query());
    ctx.out.result(tokens, () =>
      ctx.out.table(
        tokens.map((t) => ({ ...t, state: t.revokedAt ? 'revoked' : t.expiresAt && t.expiresAt.getTime() <= Date.now() ? 'expired' : 'active' })) as unknown as Record<string, unknown>[],
        [
          { key: 'id', title: 'ID' },
          { key: 'name', title: 'NAME' },
          { key: 'role', title: 'ROLE' },
          { key: 'tokenPrefix', title: 'PREFIX', render: (v) => `${String(v)}…` },
          { key: 'state', title: 'STATE', render: (v) => ctx.out.paint(v === 'active' ? 'green' : 'red', String(v)) },
          { key: 'createdAt', title: 'CREATED' },
          { key: 'expiresAt', title: 'EXPIRES' },
          { key: 'lastUsedAt', title: 'LAST USED' },
        ],
      ),
    );
    return exitCodes.ok;
  },
};

export const tokensRevokeCommand: Command = {
  words: ['tokens', 'revoke'],
  args: '<tokenId>',
  minArgs: 1,
  maxArgs: 1,
  summary: 'revoke an API token (admin): requests with it are refused from now on',
  options: {},
  async run(ctx, { positionals }) {
    const id = positionals[0]!;
    const api = await ctx.api();
    const t = await api.call((trpc) => trpc.auth.tokens.revoke.mutate({ id }));
    ctx.out.result(t, () => ctx.out.success(`revoked token ${t.name} (${t.id}, ${t.tokenPrefix}…)`));
    return exitCodes.ok;
  },
};
