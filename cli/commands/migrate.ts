import { CliError, exitCodes, networkFailure, usageError } from '../cli-errors.ts';
import type { Command } from '../context.ts';

export const migrateCommand: Command = {
  words: ['migrate'],
  args: '',
  minArgs: 0,
  maxArgs: 0,
  summary: 'apply the database migrations in drizzle/ to DATABASE_URL (idempotent)',
  options: {},
  async run(ctx) {
    const url = ctx.env.DATABASE_URL;
    if (!url) throw usageError('DATABASE_URL is not set', 'e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/mc bun run migrate');
    // Loaded only here: no other command needs the server's database code.
    const { runMigrations } = await import('@mc/server/db/migrate');
    try {
      await runMigrations(url);
    } catch (e) {
      const net = networkFailure(e);
      if (!net) throw e;
      throw new CliError(exitCodes.unreachable, `cannot reach the database at ${new URL(url).host} (${net})`, {
        code: 'UNREACHABLE',
        hint: 'is Postgres running? check DATABASE_URL, or start the local stack with `./dev/run start`',
      });
    }
    ctx.out.result({ ok: true }, () => ctx.out.success(`migrations applied to ${new URL(url).pathname.slice(1) || 'database'}`));
    return 0;
  },
};
