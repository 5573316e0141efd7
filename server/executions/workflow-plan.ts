import type { Manifest, Task } from '@mc/shared/manifest';
import type { Queryable } from '../db/client.ts';
import { findPublishedWorkflowCached } from '../workflows/repository.ts';

/** A published manifest indexed for the engine: who depends on whom. Built once per workflow and cached (published manifests never change). */
export interface WorkflowPlan {
  manifest: Manifest;
  manifestDigest: string;
  tasks: Map<string, Task>;
  dependents: Map<string, string[]>;
}

export function buildPlan(manifest: Manifest, manifestDigest: string): WorkflowPlan {
  const tasks = new Map(manifest.tasks.map((t) => [t.id, t]));
  const dependents = new Map<string, string[]>(manifest.tasks.map((t) => [t.id, []]));
  for (const t of manifest.tasks) for (const n of t.needs) dependents.get(n)?.push(t.id);
  return { manifest, manifestDigest, tasks, dependents };
}

/** Every task downstream of `taskId` (transitively), excluding itself. */
export function descendantsOf(plan: WorkflowPlan, taskId: string): string[] {
  const seen = new Set<string>();
  const stack = [...(plan.dependents.get(taskId) ?? [])];
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    stack.push(...(plan.dependents.get(id) ?? []));
  }
  return [...seen];
}

/** Published manifests never change, so their plans are cached per process (bounded, oldest out first). */
const cache = new Map<string, WorkflowPlan>();
const cacheLimit = 1000;

export function cachedPlan(workflowId: string): WorkflowPlan | undefined {
  return cache.get(workflowId);
}

export function rememberPlan(workflowId: string, plan: WorkflowPlan): WorkflowPlan {
  if (cache.size >= cacheLimit) cache.delete(cache.keys().next().value!);
  cache.set(workflowId, plan);
  return plan;
}

/** The plan of a workflow, from the cache or built from its stored manifest. */
export async function loadPlan(deps: { db: Queryable }, workflowId: string): Promise<WorkflowPlan> {
  const cached = cachedPlan(workflowId);
  if (cached) return cached;
  const wf = await findPublishedWorkflowCached(deps.db, workflowId);
  if (!wf) throw new Error(`workflow ${workflowId} not found`);
  return rememberPlan(workflowId, buildPlan(wf.manifest as Manifest, wf.manifestDigest));
}
