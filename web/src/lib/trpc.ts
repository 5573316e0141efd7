import { createTRPCClient, httpBatchLink, TRPCClientError } from '@trpc/client';
import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import superjson from 'superjson';
import type { AppRouter } from '@mc/server/trpc/app-router';
import { getToken } from './auth-token.ts';

/**
 * The dashboard's only way to the server: the typed tRPC client over `/trpc`. Because the type
 * comes from the server's router, a renamed field or input key fails `svelte-check`.
 */
export const api = createTRPCClient<AppRouter>({
  links: [
    httpBatchLink({
      url: '/trpc',
      transformer: superjson,
      headers: () => {
        const token = getToken();
        return token ? { authorization: `Bearer ${token}` } : {};
      },
    }),
  ],
});

export type RouterOutputs = inferRouterOutputs<AppRouter>;
export type RouterInputs = inferRouterInputs<AppRouter>;

export type WorkflowSummary = RouterOutputs['workflows']['list']['items'][number];
export type WorkflowView = RouterOutputs['workflows']['get'];
export type ExecutionSummary = RouterOutputs['executions']['list']['items'][number];
export type ExecutionView = RouterOutputs['executions']['get'];
export type StepView = ExecutionView['steps'][number];
export type LogLine = RouterOutputs['executions']['logs'][number];
export type AuditEventView = RouterOutputs['audit']['list']['items'][number];
export type ExecutionStatus = ExecutionSummary['status'];

/** One policy decision as the server reports it (plan and execution detail). */
export type PolicyDecision = RouterOutputs['workflows']['plan']['decisions'][number];
/** The dry-run plan of `workflows.plan`: stages, cost estimate, each policy decision. */
export type WorkflowPlan = RouterOutputs['workflows']['plan'];

/** Canary releases, the error budget and Sev1 incidents (server/releases/). */
export type ReleaseView = RouterOutputs['releases']['list'][number];
export type ReleaseDetail = RouterOutputs['releases']['get'];
export type ErrorBudgetView = RouterOutputs['releases']['errorBudget'];
export type IncidentView = RouterOutputs['releases']['incidents'][number];

export { TRPCClientError };
