import { z } from 'zod';
import { digestOf } from './canonical-json.ts';
import { isKnownPackage, taskPackages } from './task-packages.ts';

// semver.org's official pattern (no leading zeros, optional pre-release and build).
const semverPattern =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;
const packageRefPattern = /^pkg:[a-z0-9][a-z0-9-]*\/[a-z0-9][a-z0-9-]*@[0-9A-Za-z.+-]+$/;

export const taskIdSchema = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_-]{0,63}$/, 'must start with a letter and hold only letters, digits, "_" or "-" (at most 64)');
export const regionSchema = z.string().regex(/^[a-z][a-z0-9-]{0,30}$/, 'must be a lowercase region name such as "us" or "eu-west"');

export const taskSchema = z.strictObject({
  id: taskIdSchema,
  uses: z.string().regex(packageRefPattern, 'must look like "pkg:<namespace>/<name>@<semver>"'),
  with: z.record(z.string(), z.unknown()).default({}),
  needs: z.array(taskIdSchema).max(1000).default([]),
  retries: z.number().int().min(0).max(20).default(0),
  timeoutMs: z.number().int().min(1).max(3_600_000).default(60_000),
  runnerClass: z.string().regex(/^[a-z][a-z0-9-]{0,30}$/).default('default'),
});

export const dataClassificationSchema = z.enum(['public', 'internal', 'sensitive', 'regulated']);

export const manifestShape = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,99}$/, 'must be lowercase letters, digits, ".", "_" or "-" (at most 100)'),
  version: z.string().regex(semverPattern, 'must be a semantic version such as 1.2.3'),
  description: z.string().max(2000).optional(),
  region: regionSchema.optional(),
  dataClassification: dataClassificationSchema.default('internal'),
  /**
   * At most `limit` runs of this workflow (any version) active at once per `key` (a template over
   * `inputs`, e.g. `${{ inputs.customer }}`; one shared slot set when absent); further runs wait `queued`.
   */
  concurrency: z.strictObject({ limit: z.number().int().min(1).max(10_000), key: z.string().min(1).max(200).optional() }).optional(),
  /** Queue priority of the workflow's tasks; a start request may override it. */
  priority: z.enum(['high', 'normal', 'low']).default('normal'),
  tasks: z.array(taskSchema).min(1, 'a workflow needs at least one task'),
});

export type ManifestInput = z.input<typeof manifestShape>;
export type Manifest = z.infer<typeof manifestShape> & { region: string };
export type Task = z.infer<typeof taskSchema>;

export interface ManifestLimits {
  maxBytes: number;
  maxTasks: number;
  defaultRegion: string;
}

/**
 * The manifest schema with the checks a DAG needs: unique ids, known packages, `needs` that name
 * existing tasks, no cycles, and package-specific `with` (when no template defers it to run time).
 * Every issue carries its field path, e.g. `tasks.3.needs.0`.
 */
export function manifestSchema(limits: ManifestLimits) {
  return z
    .unknown()
    .superRefine((raw, ctx) => {
      // Checked before parsing so an oversize body costs no schema walk.
      const size = Buffer.byteLength(JSON.stringify(raw) ?? '', 'utf8');
      if (size > limits.maxBytes) {
        ctx.addIssue({ code: 'custom', path: [], message: `manifest is ${size} bytes; the limit is ${limits.maxBytes}` });
      }
    })
    .pipe(manifestShape)
    .superRefine((m, ctx) => {
      if (m.tasks.length > limits.maxTasks) {
        ctx.addIssue({ code: 'custom', path: ['tasks'], message: `${m.tasks.length} tasks; the limit is ${limits.maxTasks}` });
      }
      const index = new Map<string, number>();
      m.tasks.forEach((t, i) => {
        if (index.has(t.id)) {
          ctx.addIssue({ code: 'custom', path: ['tasks', i, 'id'], message: `duplicate task id "${t.id}" (first at tasks.${index.get(t.id)})` });
        } else index.set(t.id, i);
        if (!isKnownPackage(t.uses)) {
          ctx.addIssue({ code: 'custom', path: ['tasks', i, 'uses'], message: `unknown package "${t.uses}"; known: ${Object.keys(taskPackages).join(', ')}` });
        } else if (!containsTemplate(t.with)) {
          const withResult = taskPackages[t.uses].with.safeParse(t.with);
          if (!withResult.success) {
            for (const issue of withResult.error.issues) {
              ctx.addIssue({ code: 'custom', path: ['tasks', i, 'with', ...issue.path.map(String)], message: issue.message });
            }
          }
        }
      });
      m.tasks.forEach((t, i) => {
        t.needs.forEach((dep, j) => {
          if (!index.has(dep)) ctx.addIssue({ code: 'custom', path: ['tasks', i, 'needs', j], message: `unknown task "${dep}"` });
          else if (dep === t.id) ctx.addIssue({ code: 'custom', path: ['tasks', i, 'needs', j], message: 'a task cannot need itself' });
        });
      });
      const cycle = findCycle(m.tasks);
      if (cycle) {
        const at = index.get(cycle[0]!) ?? 0;
        ctx.addIssue({ code: 'custom', path: ['tasks', at, 'needs'], message: `dependency cycle: ${cycle.join(' -> ')}` });
      }
    })
    .transform((m): Manifest => ({ ...m, region: m.region ?? limits.defaultRegion }));
}

const templatePattern = /\$\{\{\s*([^}]*?)\s*\}\}/;
function containsTemplate(value: unknown): boolean {
  if (typeof value === 'string') return templatePattern.test(value);
  if (Array.isArray(value)) return value.some(containsTemplate);
  if (value && typeof value === 'object') return Object.values(value).some(containsTemplate);
  return false;
}

/** A cycle as a list of task ids (first repeated at the end), or null. Iterative: manifests may hold thousands of tasks. */
export function findCycle(tasks: readonly { id: string; needs: readonly string[] }[]): string[] | null {
  const needs = new Map(tasks.map((t) => [t.id, t.needs]));
  const state = new Map<string, 'visiting' | 'done'>();
  for (const start of needs.keys()) {
    if (state.has(start)) continue;
    const stack: { id: string; next: number }[] = [{ id: start, next: 0 }];
    state.set(start, 'visiting');
    while (stack.length > 0) {
      const frame = stack[stack.length - 1]!;
      const deps = needs.get(frame.id) ?? [];
      if (frame.next >= deps.length) {
        state.set(frame.id, 'done');
        stack.pop();
        continue;
      }
      const dep = deps[frame.next++]!;
      if (!needs.has(dep) || dep === frame.id) continue; // reported as unknown / self-need
      const s = state.get(dep);
      if (s === 'visiting') {
        const from = stack.findIndex((f) => f.id === dep);
        return [...stack.slice(from).map((f) => f.id), dep];
      }
      if (s === undefined) {
        state.set(dep, 'visiting');
        stack.push({ id: dep, next: 0 });
      }
    }
  }
  return null;
}

/** Tasks grouped into stages: every task's needs lie in earlier stages. For plans and the dashboard. */
export function stagesOf(tasks: readonly { id: string; needs: readonly string[] }[]): string[][] {
  const depth = new Map<string, number>();
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const depthOf = (id: string): number => {
    const known = depth.get(id);
    if (known !== undefined) return known;
    // Iterative post-order so a 2,000-long chain doesn't overflow the stack.
    const stack = [id];
    while (stack.length > 0) {
      const cur = stack[stack.length - 1]!;
      const pending = (byId.get(cur)?.needs ?? []).filter((d) => !depth.has(d));
      if (pending.length > 0) {
        stack.push(...pending);
        continue;
      }
      stack.pop();
      const d = Math.max(-1, ...(byId.get(cur)?.needs ?? []).map((n) => depth.get(n) ?? 0)) + 1;
      depth.set(cur, d);
    }
    return depth.get(id)!;
  };
  const stages: string[][] = [];
  for (const t of tasks) {
    const d = depthOf(t.id);
    (stages[d] ??= []).push(t.id);
  }
  return stages;
}

export function manifestDigest(manifest: Manifest): string {
  return digestOf(manifest);
}
