import type { Subprocess } from 'bun';

/** Starts an MC process (worker or server) as a real child process with the given env. */
export function spawnMc(entry: 'worker/main.ts' | 'server/main.ts', env: Record<string, string>): Subprocess {
  return Bun.spawn(['bun', entry], {
    cwd: new URL('../..', import.meta.url).pathname,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', ...env },
    stdout: process.env.TEST_CHILD_OUTPUT ? 'inherit' : 'ignore',
    stderr: process.env.TEST_CHILD_OUTPUT ? 'inherit' : 'ignore',
  });
}

export async function killHard(proc: Subprocess): Promise<void> {
  proc.kill('SIGKILL');
  await proc.exited;
}
