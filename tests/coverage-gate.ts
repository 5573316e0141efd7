/**
 * Spec §8's coverage gate (the `coverage-gate.js` idea) over Bun's lcov output: overall line
 * coverage of the product code (shared, server, worker, cli) must be at least 75%, and each
 * critical path (`criticalPaths` below; docs/compliance/CHECKLIST.md) at least 85%.
 */
export interface FileCoverage {
  file: string;
  linesFound: number;
  linesHit: number;
}

export function parseLcov(text: string): FileCoverage[] {
  const files: FileCoverage[] = [];
  let current: FileCoverage | null = null;
  for (const line of text.split('\n')) {
    if (line.startsWith('SF:')) current = { file: line.slice(3), linesFound: 0, linesHit: 0 };
    else if (line.startsWith('LF:') && current) current.linesFound = Number(line.slice(3));
    else if (line.startsWith('LH:') && current) current.linesHit = Number(line.slice(3));
    else if (line === 'end_of_record' && current) {
      files.push(current);
      current = null;
    }
  }
  return files;
}

const productCode = /^(shared|server|worker|cli)\//;

export interface CriticalPath {
  name: string;
  /** Files (repository-relative, as lcov names them) that make up the path. */
  files: RegExp;
  min: number;
}

/**
 * Spec §8 "critical paths ≥ 85%": the code whose failure breaks MC's promises. Receipts (signing,
 * statement, verification, issuing, serving), policy (the PDP, every pack, PII detection),
 * the engine's step transitions (the state machine and the task runner that drives it), and
 * redaction (what keeps secrets and PII out of logs and responses).
 */
export const criticalPaths: CriticalPath[] = [
  { name: 'receipts', files: /^(shared\/receipt-[a-z-]+\.ts|server\/receipts\/[a-z-]+\.ts)$/, min: 85 },
  { name: 'policy', files: /^(server\/policy\/.+\.ts|shared\/policy\.ts|shared\/pii-detection\.ts)$/, min: 85 },
  { name: 'engine step transitions', files: /^(server\/executions\/step-service\.ts|worker\/task-processor\.ts)$/, min: 85 },
  { name: 'redaction', files: /^shared\/redaction\.ts$/, min: 85 },
];

function percent(files: FileCoverage[]): { pct: number; found: number; hit: number } {
  const found = files.reduce((n, f) => n + f.linesFound, 0);
  const hit = files.reduce((n, f) => n + f.linesHit, 0);
  return { pct: found === 0 ? 0 : Math.round((hit / found) * 10_000) / 100, found, hit };
}

export function evaluateCoverageGate(files: FileCoverage[], minOverall = 75, paths: CriticalPath[] = criticalPaths): { ok: boolean; pct: number; lines: string[] } {
  const { pct, found, hit } = percent(files.filter((f) => productCode.test(f.file)));
  let ok = pct >= minOverall;
  const lines = [ok ? `Coverage OK: ${pct}% of ${found} lines (gate ${minOverall}%)` : `Coverage ${pct}% < ${minOverall}% (${hit}/${found} lines of shared, server, worker, cli)`];
  for (const path of paths) {
    const c = percent(files.filter((f) => path.files.test(f.file)));
    // A critical path with no covered files at all means the list went stale: that fails too.
    const pathOk = c.found > 0 && c.pct >= path.min;
    ok &&= pathOk;
    lines.push(pathOk ? `Coverage OK: critical path ${path.name} ${c.pct}% (gate ${path.min}%)` : `Coverage ${c.pct}% < ${path.min}% on critical path ${path.name} (${c.hit}/${c.found} lines)`);
  }
  return { ok, pct, lines };
}
