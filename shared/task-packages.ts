import { z } from 'zod';

/**
 * The catalogue of task packages MC can run. A manifest naming anything else is refused at
 * create time; the worker holds the implementations (`worker/tasks/`), keyed by the same refs.
 * Each package validates its own `with` (after template expansion) and declares a unit cost,
 * which the plan's estimate and the receipt's cost are made from.
 */
export interface TaskPackageSpec {
  ref: string;
  description: string;
  /** Cost of one successful run, in USD, as a decimal string (money is never a float). */
  costUsd: string;
  with: z.ZodType<Record<string, unknown>>;
}

const durationMs = z.number().int().min(0).max(3_600_000);

export const taskPackages = {
  'pkg:demo/echo@1.0.0': {
    ref: 'pkg:demo/echo@1.0.0',
    description: 'Returns its `with` as its output.',
    costUsd: '0.0001',
    with: z.record(z.string(), z.unknown()),
  },
  'pkg:mc/sleep@1.0.0': {
    ref: 'pkg:mc/sleep@1.0.0',
    description: 'Waits `ms` milliseconds, then succeeds.',
    costUsd: '0.0001',
    with: z.object({ ms: durationMs }),
  },
  'pkg:mc/fail@1.0.0': {
    ref: 'pkg:mc/fail@1.0.0',
    description: 'Fails its first `times` attempts (default: every attempt), then succeeds.',
    costUsd: '0.0001',
    with: z.object({ times: z.number().int().min(0).max(100).optional(), message: z.string().max(500).optional() }),
  },
  'pkg:mc/http@1.0.0': {
    ref: 'pkg:mc/http@1.0.0',
    description: 'Calls an allow-listed HTTP(S) URL; sends the task idempotency key as `Idempotency-Key`.',
    costUsd: '0.0005',
    with: z.object({
      url: z.string().url(),
      method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']).default('GET'),
      headers: z.record(z.string(), z.string()).optional(),
      body: z.unknown().optional(),
    }),
  },
} satisfies Record<string, TaskPackageSpec>;

export type TaskPackageRef = keyof typeof taskPackages;

export function isKnownPackage(ref: string): ref is TaskPackageRef {
  return Object.hasOwn(taskPackages, ref);
}
