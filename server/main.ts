import { loadConfig } from '@mc/shared/config';
import { createApp } from './app.ts';
import { runMigrations } from './db/migrate.ts';
import { createDeps } from './deps-factory.ts';
import { bootstrapIdentity } from './identity/service.ts';
import { startupProblems } from './startup-checks.ts';

/** The server process: migrations (idempotent), then the HTTP API on HOST:PORT. */
const config = loadConfig();
await runMigrations(config.DATABASE_URL);
const deps = await createDeps(config, 'server');
const problems = await startupProblems(deps);
if (problems.length > 0) {
  for (const p of problems) deps.logger.fatal(p);
  process.exit(1);
}
const { printedToken } = await bootstrapIdentity(deps);
if (printedToken) {
  // Shown once, on the first start: MC keeps only its hash.
  process.stdout.write(`\nBootstrap admin token (shown once; store it now):\n  ${printedToken}\nUse it as: Authorization: Bearer <token>\n\n`);
}
const app = createApp(deps).listen({ hostname: config.HOST, port: config.PORT, maxRequestBodySize: 4 * 1024 * 1024 });
deps.logger.info({ url: `http://${config.HOST}:${app.server?.port}` }, 'mc server listening');

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  deps.logger.info({ signal }, 'mc server stopping');
  await app.stop();
  await deps.close();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
