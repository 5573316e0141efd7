import { executionsRouter } from '../executions/router.ts';
import { receiptsRouter } from '../receipts/router.ts';
import { workflowsRouter } from '../workflows/router.ts';
import { router } from './init.ts';

export const appRouter = router({
  workflows: workflowsRouter,
  executions: executionsRouter,
  receipts: receiptsRouter,
});

/** The type the dashboard and CLI build their typed clients from. */
export type AppRouter = typeof appRouter;
