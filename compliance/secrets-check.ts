import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fail, pass, type Check } from './compliance-check.ts';

const repoRoot = new URL('..', import.meta.url).pathname;
const secretlint = join(repoRoot, 'node_modules/.bin/secretlint');

/** The files to scan: git's view (tracked and untracked-not-ignored) in a repository, else every file but installed/generated output. */
function filesOf(root: string): string[] {
  const git = Bun.spawnSync(['git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, stderr: 'ignore' });
  const skipDirs = new Set(['.git', 'node_modules', 'dist', 'coverage', 'test-results', '.mc']);
  // Only when `root` is itself the top of a work tree: a temp dir inside another repo must be walked.
  const top = Bun.spawnSync(['git', 'rev-parse', '--show-toplevel'], { cwd: root, stderr: 'ignore' }).stdout.toString().trim();
  if (git.exitCode === 0 && top === root.replace(/\/$/, '')) {
    return git.stdout.toString().split('\0').filter((f) => f.length > 0 && statSafe(join(root, f)));
  }
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) {
        if (!skipDirs.has(entry.name)) walk(join(dir, entry.name));
      } else if (entry.isFile()) out.push(relative(root, join(dir, entry.name)));
    }
  };
  walk(root);
  return out;
}

function statSafe(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false; // deleted in the work tree but still in the index
  }
}

interface SecretlintResult {
  filePath: string;
  messages: { ruleId: string; message: string; loc: { start: { line: number } } }[];
}

/** "Secrets scanned": secretlint with its recommended preset (.secretlintrc.json), honouring .secretlintignore. */
export const secretsCheck: Check = {
  id: 'secrets',
  checklist: 'Secrets scanned',
  async run(opts) {
    const files = filesOf(opts.root);
    const findings: string[] = [];
    // In chunks: one command line holds a few thousand paths at most.
    for (let i = 0; i < files.length; i += 500) {
      const proc = Bun.spawnSync(
        [secretlint, '--secretlintrc', join(repoRoot, '.secretlintrc.json'), '--secretlintignore', join(repoRoot, '.secretlintignore'), '--format', 'json', ...files.slice(i, i + 500)],
        { cwd: opts.root, stdout: 'pipe', stderr: 'pipe' },
      );
      const text = proc.stdout.toString().trim();
      let results: SecretlintResult[];
      try {
        results = text === '' ? [] : (JSON.parse(text) as SecretlintResult[]);
      } catch {
        return fail(`secretlint did not run (exit ${proc.exitCode}): ${proc.stderr.toString().slice(0, 300)}`);
      }
      for (const r of results) for (const m of r.messages) findings.push(`${relative(opts.root, r.filePath)}:${m.loc.start.line} ${m.ruleId}: ${m.message}`);
    }
    if (findings.length > 0) return fail(`secretlint found ${findings.length} secret(s):`, ...findings.map((f) => `  ${f}`));
    return pass(`secretlint (recommended preset): ${files.length} files scanned, no secrets`);
  },
};
