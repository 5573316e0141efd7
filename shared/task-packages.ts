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
    description: 'Waits `ms` milliseconds, then succeeds. Durable: the wait survives worker restarts and holds no worker slot; a sleep longer than the task\'s `timeoutMs` fails at the timeout.',
    costUsd: '0.0001',
    with: z.object({ ms: durationMs }),
  },
  'pkg:mc/wait-for-event@1.0.0': {
    ref: 'pkg:mc/wait-for-event@1.0.0',
    description: 'Waits (durably) for `executions.signal` with this `event` and `key`; its payload is the output. Fails after `timeoutMs`.',
    costUsd: '0',
    with: z.object({ event: z.string().min(1).max(100), key: z.string().max(200).default(''), timeoutMs: z.number().int().min(1).max(30 * 86_400_000).default(86_400_000) }),
  },
  'pkg:mc/approval@1.0.0': {
    ref: 'pkg:mc/approval@1.0.0',
    description: 'Pauses the run until `approvers` distinct people with `role` approve (never the requester); one rejection ends the run `rejected`; fails after `timeoutMs`.',
    costUsd: '0',
    with: z.object({
      approvers: z.number().int().min(1).max(20).default(1),
      role: z.enum(['admin', 'operator', 'composer', 'viewer']).default('operator'),
      timeoutMs: z.number().int().min(1).max(30 * 86_400_000).default(86_400_000),
    }),
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
