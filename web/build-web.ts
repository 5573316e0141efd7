import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Builds the dashboard (web/build) with Bun's runtime — Kit 3 needs a newer Node than Debian's,
 * see STACK-NOTES. `bun run build:web` type-checks first and then builds; the server's start-up
 * and the browser tests call `ensureWebBuild()`, which builds only when the output is missing or
 * older than the sources.
 */
export const webDir = import.meta.dir;
export const webBuildDir = join(webDir, 'build');
const builtMarker = join(webBuildDir, '200.html');
const sources = ['src', 'static', 'vite.config.ts', 'package.json', 'tsconfig.json'];

function newestMtime(path: string): number {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

export function webBuildIsCurrent(): boolean {
  if (!existsSync(builtMarker)) return false;
  const builtAt = statSync(builtMarker).mtimeMs;
  return sources.every((s) => newestMtime(join(webDir, s)) <= builtAt);
}

async function run(args: string[], what: string): Promise<void> {
  // process.execPath is this Bun; `bun x --bun` runs the tool on Bun rather than on Node.
  const proc = Bun.spawn([process.execPath, ...args], { cwd: webDir, stdout: 'pipe', stderr: 'pipe', env: { ...process.env, NODE_ENV: 'production' } });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`${what} failed (exit ${code}):\n${out.slice(-4000)}\n${err.slice(-4000)}`);
}

interface CheckDiagnostic {
  type: 'ERROR' | 'WARNING' | 'HINT';
  filename: string;
  start?: { line: number; character: number };
  message: string;
}

/**
 * svelte-check with no errors and no warnings in the dashboard's own files, checked against the
 * server's AppRouter type (a renamed field or input key fails here). Diagnostics inside the
 * server's files are the root `tsc`'s to report: counting them here would make the dashboard's
 * build fail on a server change in progress, so they are only summarised.
 */
export async function checkWeb(): Promise<void> {
  await run(['x', 'svelte-kit', 'sync'], 'svelte-kit sync');
  const proc = Bun.spawn([process.execPath, 'x', '--bun', 'svelte-check', '--tsconfig', './tsconfig.json', '--output', 'machine-verbose'], {
    cwd: webDir,
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  const diagnostics: CheckDiagnostic[] = [];
  for (const line of out.split('\n')) {
    const json = line.indexOf(' {');
    if (json < 0) continue;
    diagnostics.push(JSON.parse(line.slice(json + 1)) as CheckDiagnostic);
  }
  const ours = diagnostics.filter((d) => d.type !== 'HINT' && !d.filename.startsWith('..'));
  const outside = diagnostics.filter((d) => d.type === 'ERROR' && d.filename.startsWith('..'));
  if (outside.length > 0) {
    process.stderr.write(`web: ignoring ${outside.length} type error(s) outside web/ (run \`bun run typecheck\` for those): ${[...new Set(outside.map((d) => d.filename))].join(', ')}\n`);
  }
  if (ours.length > 0 || !out.includes('COMPLETED')) {
    const text = ours.map((d) => `${d.type} web/${d.filename}:${d.start ? d.start.line + 1 : 0}: ${d.message}`).join('\n');
    throw new Error(`svelte-check found ${ours.length} problem(s) in the dashboard:\n${text}${ours.length === 0 ? `\n${out.slice(-2000)}\n${err.slice(-2000)}` : ''}`);
  }
}

export async function buildWeb(): Promise<void> {
  await run(['x', '--bun', 'vite', 'build'], 'vite build');
}

/** Builds the dashboard if web/build is missing or stale. Returns whether it built. */
export async function ensureWebBuild(opts: { check?: boolean } = {}): Promise<boolean> {
  if (webBuildIsCurrent()) return false;
  if (opts.check) await checkWeb();
  await buildWeb();
  return true;
}

if (import.meta.main) {
  const started = performance.now();
  await checkWeb();
  await buildWeb();
  process.stdout.write(`web: checked and built into ${webBuildDir} in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
}
