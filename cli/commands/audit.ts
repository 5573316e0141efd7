import { exitCodes } from '../cli-errors.ts';
import type { Command } from '../context.ts';

export const auditVerifyCommand: Command = {
  words: ['audit', 'verify'],
  args: '',
  minArgs: 0,
  maxArgs: 0,
  summary: 'check the audit trail\'s hash chain; names the first row that was edited, deleted or inserted',
  options: {},
  async run(ctx) {
    const api = await ctx.api();
    const r = await api.call((t) => t.audit.verify.mutate());
    ctx.out.result(r, () => {
      if (r.ok) ctx.out.success(`audit chain intact (${r.checked} events checked)`);
      else {
        ctx.out.line(`${ctx.out.paint('red', '✘ audit chain BROKEN')} at seq ${r.firstBreak?.seq} (event ${r.firstBreak?.id})`);
        ctx.out.line(`  ${r.firstBreak?.reason}`);
        ctx.out.line(`  ${r.checked} events before it check out`);
      }
    });
    return r.ok ? exitCodes.ok : exitCodes.failed;
  },
};
