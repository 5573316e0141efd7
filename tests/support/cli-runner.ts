import { join } from 'node:path';

const repoRoot = join(import.meta.dir, '..', '..');
const stackTrace = /\n\s+at .+:\d+:\d+/;

export interface McRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `bun cli/main.ts …` as a user would: a child process with only the environment given (no
 * inherited config). Async spawn, because the server answering it may run in this very process.
 * A stack trace in its output fails the test: errors must be messages.
 */
export async function runMc(args: string[], opts: { cwd: string; env: Record<string, string> }): Promise<McRun> {
  const proc = Bun.spawn(['bun', join(repoRoot, 'cli', 'main.ts'), ...args], {
    cwd: opts.cwd,
    env: { PATH: process.env.PATH ?? '', NO_COLOR: '1', ...opts.env },
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (stackTrace.test(stderr) || stackTrace.test(stdout)) throw new Error(`mc ${args.join(' ')} printed a stack trace:\n${stderr}`);
  return { code, stdout, stderr };
}
