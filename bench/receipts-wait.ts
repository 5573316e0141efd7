import type postgres from 'postgres';
import { percentilesOf, type Percentiles } from './stats.ts';

/** Waits (polling Postgres, sleeping between polls) until every execution has its receipt; returns how many did. */
export async function waitForReceipts(sql: postgres.Sql, ids: readonly string[], timeoutMs = 120_000, pollMs = 100): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let have = 0;
  while (Date.now() < deadline) {
    const [row] = await sql<{ n: number }[]>`select count(*)::int as n from receipts where execution_id = any(${uuidArray(ids)}::uuid[])`;
    have = row?.n ?? 0;
    if (have >= ids.length) return have;
    await Bun.sleep(pollMs);
  }
  return have;
}

export async function receiptCount(sql: postgres.Sql): Promise<number> {
  const [row] = await sql<{ n: number }[]>`select count(*)::int as n from receipts`;
  return row?.n ?? 0;
}

/**
 * Server-side latencies from Postgres timestamps: publish→start is executions.created_at →
 * started_at (the first task claimed); end to end is created_at → receipts.created_at (signed and stored).
 */
export async function executionLatencies(sql: postgres.Sql, ids: readonly string[]): Promise<{ publishToStart: Percentiles; endToEnd: Percentiles }> {
  const rows = await sql<{ start_ms: number | null; e2e_ms: number | null }[]>`
    select extract(epoch from (e.started_at - e.created_at)) * 1000 as start_ms,
           extract(epoch from (r.created_at - e.created_at)) * 1000 as e2e_ms
    from executions e left join receipts r on r.execution_id = e.id
    where e.id = any(${uuidArray(ids)}::uuid[])`;
  const num = (v: number | string | null) => (v === null ? null : Number(v));
  return {
    publishToStart: percentilesOf(rows.map((r) => num(r.start_ms)).filter((x): x is number => x !== null)),
    endToEnd: percentilesOf(rows.map((r) => num(r.e2e_ms)).filter((x): x is number => x !== null)),
  };
}

/** A Postgres array literal of uuids (sent as one text parameter, cast in SQL). */
function uuidArray(ids: readonly string[]): string {
  return `{${ids.join(',')}}`;
}
