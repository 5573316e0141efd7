import { createTRPCClient, httpBatchLink, TRPCClientError } from '@trpc/client';
import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import superjson from 'superjson';
import type { AppRouter } from '@mc/server/trpc/app-router';

/**
 * The dashboard's only way to the server: the typed tRPC client over `/trpc`. Because the type
 * comes from the server's router, a renamed field or input key fails `svelte-check`.
 */
export const api = createTRPCClient<AppRouter>({
  links: [httpBatchLink({ url: '/trpc', transformer: superjson })],
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
export interface PolicyDecision {
  decisionId: string;
  pack: string;
  allow: boolean;
  reasons: string[];
  latencyMs: number;
}

/** The dry-run plan of `workflows.plan`. */
export interface WorkflowPlan {
  stages: string[][];
  costEstimateUsd: string;
  allowed: boolean;
  decisions: PolicyDecision[];
}

export { TRPCClientError };
