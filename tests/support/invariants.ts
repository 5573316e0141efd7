import { sql } from 'drizzle-orm';
import { terminalExecutionStatuses } from '@mc/shared/api';
import { receiptExecutionStatuses } from '@mc/shared/receipt-statement';
import type { Deps } from '@mc/server/deps';

/**
 * The chaos suite's bookkeeping (issue 9): whatever broke, every execution the API acknowledged
 * (201) is in Postgres with all of its steps, ends terminal, and — for a status that is receipted —
 * has a receipt row whose object is in the store.
 */
export interface InvariantReport {
  accepted: number;
  terminal: number;
  receipted: number;
  byStatus: Record<string, number>;
}

interface ExecutionFacts {
  id: string;
  status: string;
  steps: number;
  planned: number;
  bucket: string | null;
  objectKey: string | null;
  stepStates: string | null;
}

async function factsOf(db: Deps['db'], ids: readonly string[]): Promise<ExecutionFacts[]> {
  if (ids.length === 0) return [];
  const list = sql.join(ids.map((id) => sql`${id}::uuid`), sql`, `);
  const rows = await db.execute(sql`
    select e.id, e.status,
      (select count(*)::int from execution_steps s where s.execution_id = e.id) as steps,
      (select string_agg(s.task_id || ':' || s.status, ',' order by s.task_id) from execution_steps s where s.execution_id = e.id) as "stepStates",
      jsonb_array_length(w.manifest->'tasks') as planned,
      r.bucket, r.object_key as "objectKey"
    from executions e
    join workflows w on w.id = e.workflow_id
    left join receipts r on r.execution_id = e.id
    where e.id in (${list})`);
  return rows as unknown as ExecutionFacts[];
}

/** Executions that exist but are missing steps: a half-written start (there must be none, ever). */
export async function halfWrittenExecutions(db: Deps['db']): Promise<string[]> {
  const rows = await db.execute(sql`
    select e.id from executions e join workflows w on w.id = e.workflow_id
    where (select count(*) from execution_steps s where s.execution_id = e.id) <> jsonb_array_length(w.manifest->'tasks')`);
  return (rows as unknown as { id: string }[]).map((r) => r.id);
}

/**
 * Waits (bounded) until every accepted execution is terminal with its receipt stored, then checks
 * the three counts agree. Throws, naming what is missing, when they do not by the deadline.
 */
export async function expectAcceptedAllSettled(deps: Pick<Deps, 'db' | 'objectStore'>, accepted: readonly string[], opts: { timeoutMs?: number } = {}): Promise<InvariantReport> {
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  const receipted = new Set<string>(receiptExecutionStatuses);
  const terminal = new Set<string>(terminalExecutionStatuses);
  let problems: string[] = [];
  let report: InvariantReport = { accepted: accepted.length, terminal: 0, receipted: 0, byStatus: {} };
  while (true) {
    problems = [];
    report = { accepted: accepted.length, terminal: 0, receipted: 0, byStatus: {} };
    try {
      const facts = await factsOf(deps.db, accepted);
      const found = new Map(facts.map((f) => [f.id, f]));
      for (const id of accepted) {
        const f = found.get(id);
        if (!f) {
          problems.push(`${id}: acknowledged but not in Postgres`);
          continue;
        }
        report.byStatus[f.status] = (report.byStatus[f.status] ?? 0) + 1;
        if (f.steps !== f.planned) problems.push(`${id}: ${f.steps} of ${f.planned} steps written`);
        if (!terminal.has(f.status)) {
          problems.push(`${id}: still ${f.status} (${f.stepStates})`);
          continue;
        }
        report.terminal++;
        if (!receipted.has(f.status)) continue;
        if (!f.bucket || !f.objectKey) {
          problems.push(`${id}: ${f.status} without a receipt row`);
          continue;
        }
        if (!(await deps.objectStore.getObject(f.bucket, f.objectKey))) {
          problems.push(`${id}: receipt row but no object in the store`);
          continue;
        }
        report.receipted++;
      }
    } catch (e) {
      problems = [`query failed: ${String(e)}`];
    }
    if (problems.length === 0) return report;
    if (Date.now() > deadline) break;
    await Bun.sleep(250);
  }
  throw new Error(`invariants do not hold (${problems.length} problems): ${problems.slice(0, 10).join('; ')}`);
}
