import { api, type WorkflowPlan } from './trpc.ts';

export interface PlanInput {
  id: string;
  inputs?: Record<string, unknown>;
  region?: string;
}

/**
 * `workflows.plan` takes `z.unknown()` (the service validates, so REST and tRPC report the same
 * paths); this pins the shape the dashboard sends.
 */
export function planWorkflow(input: PlanInput): Promise<WorkflowPlan> {
  return api.workflows.plan.mutate(input);
}
