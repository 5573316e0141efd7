import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fail, pass, type Check } from './compliance-check.ts';

/** "Runbook & SLOs updated": docs/ops/ holds at least one runbook and one SLO document; the data lifecycle and checklist docs exist. */
export const docsCheck: Check = {
  id: 'docs',
  checklist: 'Runbook & SLOs updated',
  async run(opts) {
    const problems: string[] = [];
    const opsDir = join(opts.root, 'docs/ops');
    const ops = existsSync(opsDir) ? readdirSync(opsDir).filter((f) => f.endsWith('.md')) : [];
    if (!ops.some((f) => /runbook|playbook/i.test(f))) problems.push('docs/ops/ has no runbook (a *runbook*.md or *playbook*.md)');
    if (!ops.some((f) => /slo|error[-_]?budget/i.test(f))) problems.push('docs/ops/ has no SLO document (a *slo*.md or *error-budget*.md / *ERROR_BUDGET*.md)');
    for (const f of ['docs/data/MC_DATA_LIFECYCLE.md', 'docs/compliance/CHECKLIST.md']) if (!existsSync(join(opts.root, f))) problems.push(`${f} is missing`);
    return problems.length > 0 ? fail(...problems) : pass(`docs/ops: ${ops.join(', ')}; lifecycle and checklist docs present`);
  },
};
