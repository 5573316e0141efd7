import { startMcStack, type McStack } from '../mc-stack.ts';
import type { BenchSettings } from '../settings.ts';
import { median, percentilesOf, round, medianPercentiles, type Percentiles } from '../stats.ts';
import { fanOut, oneTask } from '../workloads.ts';
import { waitForReceipts } from '../receipts-wait.ts';
import { timeOne } from './published.ts';

export interface GrowthResult {
  fanOut: { tasks: number; runs: number[]; wallMs: number; perTaskMs: number };
  list: { rows: number; query: string; latency: Percentiles; plan: string }[];
  /** POST /api/executions (1 task), one at a time, at each table size. */
  start: { rows: number; latency: Percentiles }[];
  insertSeconds: number;
}

/**
 * Growth: a 1,000-task fan-out (1 → 998 → 1), and list latency with the executions table at 10k
 * and at `growthRows` rows (synthetic succeeded executions of the bench tenant, bulk-inserted with
 * generate_series), showing whether the list's cost depends on table size.
 */
export async function runGrowthPart(s: BenchSettings, log: (m: string) => void): Promise<GrowthResult> {
  const stack = await startMcStack({ label: 'growth', workerConcurrency: s.workerConcurrency, poolSize: s.poolSize });
  try {
    const fanId = await stack.publish(fanOut(998));
    await timeOne(stack, fanId); // warm-up
    const walls: number[] = [];
    for (let i = 0; i < s.runs; i++) walls.push((await timeOne(stack, fanId)).wallMs);
    const fan = { tasks: 1000, runs: walls.map((x) => round(x)), wallMs: median(walls), perTaskMs: median(walls) / 1000 };
    log(`growth fan-out 1000: ${fan.runs.join(', ')} ms (${round(fan.perTaskMs, 2)} ms/task)`);

    const wfId = await stack.publish(oneTask);
    const list: GrowthResult['list'] = [];
    const t0 = performance.now();
    await insertSynthetic(stack, wfId, 10_000);
    let insertSeconds = (performance.now() - t0) / 1000;
    const start: GrowthResult['start'] = [];
    for (const q of listQueries) list.push({ rows: 10_000, query: q, ...(await measureList(stack, q, s.runs)) });
    start.push({ rows: 10_000, latency: await measureStart(stack, wfId, s.runs) });
    const t1 = performance.now();
    await insertSynthetic(stack, wfId, s.growthRows - 10_000);
    insertSeconds += (performance.now() - t1) / 1000;
    log(`growth: inserted ${s.growthRows} synthetic executions in ${round(insertSeconds)} s`);
    for (const q of listQueries) list.push({ rows: s.growthRows, query: q, ...(await measureList(stack, q, s.runs)) });
    start.push({ rows: s.growthRows, latency: await measureStart(stack, wfId, s.runs) });
    for (const l of list) log(`growth list ${l.query} @${l.rows} rows: p50 ${round(l.latency.p50, 2)} ms, p95 ${round(l.latency.p95, 2)} ms`);
    for (const l of start) log(`growth POST /api/executions @${l.rows} rows: p50 ${round(l.latency.p50, 2)} ms, p95 ${round(l.latency.p95, 2)} ms`);
    return { fanOut: fan, list, start, insertSeconds };
  } finally {
    await stack.stop();
  }
}

const listQueries = ['/api/executions?limit=50', '/api/executions?limit=50&status=succeeded'];

/**
 * Rows that satisfy every FK and check: the bench tenant, a published workflow, a succeeded run in
 * the past — 50 ms apart, so 1M rows span ~14 h and all fall inside the budget pack's 24 h window
 * (what a tenant sustaining ~20 executions/s would have).
 */
async function insertSynthetic(stack: McStack, workflowId: string, count: number): Promise<void> {
  const [tenant] = await stack.sql<{ id: string }[]>`select tenant_id as id from workflows where id = ${workflowId}`;
  if (!tenant) throw new Error('bench workflow not found');
  const batch = 250_000;
  for (let from = 0; from < count; from += batch) {
    const n = Math.min(batch, count - from);
    await stack.sql`
      insert into executions (tenant_id, workflow_id, status, region, actor_sub, inputs, inputs_digest, outputs_digest,
                              created_at, started_at, finished_at, open_steps, inputs_class, priority, cost_usd, cost_estimate_usd)
      select ${tenant.id}, ${workflowId}, 'succeeded', 'us', 'bench', '{}'::jsonb,
             'sha256:' || md5(g::text), 'sha256:' || md5((g + 1)::text),
             now() - interval '1 minute' - g * interval '50 ms', now() - interval '1 minute' - g * interval '50 ms' + interval '5 ms',
             now() - interval '1 minute' - g * interval '50 ms' + interval '20 ms', 0, 'internal', 'normal', 0.0001, 0.0001
      from generate_series(${from + 1}::int, ${from + n}::int) g`;
  }
  // The spend ledger as MC would have written it for these runs (server/policy/spend-ledger.ts):
  // every minute of the window, on all 8 shards, so the budget check reads its worst case.
  await stack.sql`
    insert into tenant_spend_minutes (tenant_id, minute, shard, amount_usd)
    select ${tenant.id}::uuid, date_trunc('minute', created_at), (extract(epoch from created_at) * 20)::bigint % 8, sum(cost_usd)
    from executions where tenant_id = ${tenant.id} and actor_sub = 'bench'
    group by 1, 2, 3
    on conflict (tenant_id, minute, shard) do update set amount_usd = excluded.amount_usd`;
  await stack.sql`analyze executions`;
  await stack.sql`analyze tenant_spend_minutes`;
}

/** Starting a run reads the tenant's spend over the budget window (server/policy/spend-ledger.ts): does it grow with the table? */
async function measureStart(stack: McStack, workflowId: string, runs: number): Promise<Percentiles> {
  const perRun: Percentiles[] = [];
  const ids: string[] = [];
  for (let r = 0; r < runs; r++) {
    const xs: number[] = [];
    for (let i = 0; i < 30; i++) {
      const t = performance.now();
      ids.push(await stack.start(workflowId));
      xs.push(performance.now() - t);
    }
    perRun.push(percentilesOf(xs));
  }
  await waitForReceipts(stack.sql, ids, 60_000);
  return medianPercentiles(perRun);
}

async function measureList(stack: McStack, path: string, runs: number): Promise<{ latency: Percentiles; plan: string }> {
  const headers = { authorization: `Bearer ${stack.token}` };
  const get = async () => {
    const res = await fetch(`${stack.api}${path}`, { headers });
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`${path}: ${res.status}`);
  };
  for (let i = 0; i < 20; i++) await get();
  const perRun: Percentiles[] = [];
  for (let r = 0; r < runs; r++) {
    const xs: number[] = [];
    for (let i = 0; i < 100; i++) {
      const t = performance.now();
      await get();
      xs.push(performance.now() - t);
    }
    perRun.push(percentilesOf(xs));
  }
  // The plan of the list's SQL (server/executions/repository.ts listExecutions), for the record.
  const status = path.includes('status=') ? `and e.status = 'succeeded'` : '';
  const plan = await stack.sql.unsafe(
    `explain (analyze, costs off, timing off, summary on)
     select e.*, w.name, w.version from executions e join workflows w on w.id = e.workflow_id
     where e.tenant_id = (select tenant_id from workflows limit 1) ${status}
     order by e.created_at desc, e.id desc limit 51`,
  );
  return { latency: medianPercentiles(perRun), plan: plan.map((r) => String(Object.values(r)[0])).join('\n') };
}
