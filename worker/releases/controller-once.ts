import { createDatabase } from '@mc/server/db/client';
import { runReleaseTick } from '@mc/server/releases/release-tick';
import type { FaultPoint } from '@mc/server/releases/transitions';
import { loadConfig } from '@mc/shared/config';
import { createLogger } from '@mc/shared/logger';

/**
 * One release-controller tick as its own process, at a given time:
 *   bun worker/releases/controller-once.ts [--now=<ISO time>] [--crash-at=analysed|in_transaction|committed]
 * For operators (a tick by hand) and for the chaos tests, which kill it with SIGKILL at a named
 * point of a transition (`--crash-at`) and check a later run resumes from the stored state.
 */
const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const now = args.has('now') ? new Date(args.get('now')!) : new Date();
if (Number.isNaN(now.getTime())) throw new Error('--now must be an ISO date-time');
const crashAt = args.get('crash-at') as FaultPoint | undefined;

const config = loadConfig();
const logger = createLogger({ level: config.LOG_LEVEL, name: 'mc-release-controller' });
const database = createDatabase(config.DATABASE_URL, { poolSize: 2 });
const result = await runReleaseTick({ db: database.db, config, logger }, now, (point) => {
  if (point === crashAt) process.kill(process.pid, 'SIGKILL');
});
process.stdout.write(`${JSON.stringify({ canaries: result.canaries })}\n`);
await database.close();
