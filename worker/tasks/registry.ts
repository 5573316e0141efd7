import { taskPackages, type TaskPackageRef } from '@mc/shared/task-packages';
import { echo } from './echo.ts';
import { fail } from './fail.ts';
import { http } from './http.ts';
import { sleep } from './sleep.ts';
import { approval } from './approval.ts';
import { waitForEvent } from './wait-for-event.ts';
import type { TaskImplementation } from './task-context.ts';

/** Every package of the shared catalogue has exactly one implementation here (checked at start-up). */
export const taskImplementations: Record<TaskPackageRef, TaskImplementation> = {
  'pkg:demo/echo@1.0.0': echo as TaskImplementation,
  'pkg:mc/sleep@1.0.0': sleep as TaskImplementation,
  'pkg:mc/fail@1.0.0': fail as TaskImplementation,
  'pkg:mc/http@1.0.0': http as TaskImplementation,
  'pkg:mc/wait-for-event@1.0.0': waitForEvent as TaskImplementation,
  'pkg:mc/approval@1.0.0': approval as TaskImplementation,
};

export function assertRegistryComplete(): void {
  const missing = Object.keys(taskPackages).filter((ref) => !(ref in taskImplementations));
  if (missing.length > 0) throw new Error(`no implementation for task packages: ${missing.join(', ')}`);
}
