import { createApiClient } from '../api-client.ts';
import { usageError } from '../cli-errors.ts';
import { loadConfig, normaliseServer, saveConfig } from '../config-store.ts';
import { stringValue, type Command } from '../context.ts';

export const loginCommand: Command = {
  words: ['login'],
  args: '',
  minArgs: 0,
  maxArgs: 0,
  summary: 'check a token against a server and save both as a profile (config file mode 0600)',
  options: { token: { type: 'string', description: 'API token, sent as "Authorization: Bearer <token>"', valueName: 'TOKEN' } },
  async run(ctx, { values }) {
    const token = stringValue(values.token) ?? ctx.env.MC_TOKEN;
    if (!ctx.globals.server) throw usageError('mc login needs --server URL', 'e.g. mc login --server http://127.0.0.1:3000 --token TOKEN');
    if (!token) throw usageError('mc login needs --token TOKEN');
    const server = normaliseServer(ctx.globals.server);
    const profileName = ctx.globals.profile ?? ctx.env.MC_PROFILE ?? 'default';
    const me = await createApiClient({ server, token, profileName }, ctx.env).call((t) => t.auth.me.query());
    const config = await loadConfig(ctx.env);
    config.profiles[profileName] = { server, token };
    config.currentProfile = profileName;
    const path = await saveConfig(ctx.env, config);
    ctx.out.result({ ok: true, profile: profileName, server, actor: me, configPath: path }, () => {
      ctx.out.success(`logged in to ${server} as ${ctx.out.paint('bold', me.sub)} (${me.role})`);
      ctx.out.line(`profile "${profileName}" saved in ${path}`);
    });
    return 0;
  },
};
