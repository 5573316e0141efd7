/**
 * Spec §8's coverage gate (the `coverage-gate.js` idea) over Bun's lcov output: overall line
 * coverage of the product code (shared, server, worker, cli) must be at least 75%.
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

export function evaluateCoverageGate(files: FileCoverage[], minOverall = 75): { ok: boolean; pct: number; lines: string[] } {
  const product = files.filter((f) => productCode.test(f.file));
  const found = product.reduce((n, f) => n + f.linesFound, 0);
  const hit = product.reduce((n, f) => n + f.linesHit, 0);
  const pct = found === 0 ? 0 : Math.round((hit / found) * 10_000) / 100;
  const ok = pct >= minOverall;
  return {
    ok,
    pct,
    lines: [ok ? `Coverage OK: ${pct}% of ${found} lines (gate ${minOverall}%)` : `Coverage ${pct}% < ${minOverall}% (${hit}/${found} lines of shared, server, worker, cli)`],
  };
}
