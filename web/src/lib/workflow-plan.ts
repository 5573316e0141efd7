import { TRPCClientError } from '@trpc/client';
import { api, type ExecutionView, type PolicyDecision, type RouterOutputs, type WorkflowPlan } from './trpc.ts';

/**
 * `workflows.plan` (dry run) and `executions.get().policyDecisions` are being added to the
 * server. Until they are in `AppRouter` these fall back to the agreed shapes; once they land the
 * server's own types flow through here, so a renamed field fails svelte-check.
 */
export type PlanResult = RouterOutputs['workflows'] extends { plan: infer P } ? P : WorkflowPlan;
export interface PlanInput {
  id: string;
  inputs?: Record<string, unknown>;
  region?: string;
}

interface PlanProcedure {
  query(input: PlanInput): Promise<PlanResult>;
  mutate(input: PlanInput): Promise<PlanResult>;
}

export async function planWorkflow(input: PlanInput): Promise<PlanResult> {
  const plan = (api.workflows as unknown as { plan: PlanProcedure }).plan;
  try {
    return await plan.query(input);
  } catch (e) {
    // Whether plan is a query or a mutation is the server's choice; follow it.
    const code = e instanceof TRPCClientError && typeof e.data === 'object' && e.data !== null ? (e.data as { code?: unknown }).code : undefined;
    if (code === 'METHOD_NOT_SUPPORTED') return plan.mutate(input);
    throw e;
  }
}

export function policyDecisionsOf(execution: ExecutionView): PolicyDecision[] | null {
  const value: unknown = (execution as { policyDecisions?: unknown }).policyDecisions;
  return Array.isArray(value) ? (value as PolicyDecision[]) : null;
}
