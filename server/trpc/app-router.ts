import { auditRouter } from '../audit/router.ts';
import { eventsRouter } from '../events/router.ts';
import { authRouter } from '../auth/router.ts';
import { executionsRouter } from '../executions/router.ts';
import { receiptsRouter } from '../receipts/router.ts';
import { releasesRouter } from '../releases/router.ts';
import { schedulesRouter } from '../schedules/router.ts';
import { workflowsRouter } from '../workflows/router.ts';
import { router } from './init.ts';

export const appRouter = router({
  workflows: workflowsRouter,
  executions: executionsRouter,
  receipts: receiptsRouter,
  releases: releasesRouter,
  schedules: schedulesRouter,
  audit: auditRouter,
  events: eventsRouter,
  auth: authRouter,
});

/** The type the dashboard and CLI build their typed clients from. */
export type AppRouter = typeof appRouter;
