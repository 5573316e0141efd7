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

/**
 * Counts the receipts of the executions it is given, asking Postgres only about those still
 * without one: a closed loop polls it every 50 ms, and `count(*)` over `receipts` grew with the
 * table (0.7 ms at 8,400 rows, 1.35 ms at 15,600, measured 2026-11-25) — load on the machine under
 * test that the peers, counting in their own process, do not put on it. This costs one index
 * lookup per execution in flight (at most the loop's `maxInFlight`), whatever the table's size.
 */
export class ReceiptTracker {
  private readonly outstanding = new Set<string>();
  private done = 0;

  constructor(private readonly sql: postgres.Sql) {}

  /** Starts counting an execution (call it with each id a submit returns). */
  track(id: string): string {
    this.outstanding.add(id);
    return id;
  }

  /** Tracked executions that have their receipt; concurrent calls count each once. */
  async completed(): Promise<number> {
    if (this.outstanding.size === 0) return this.done;
    const rows = await this.sql<{ id: string }[]>`select execution_id::text as id from receipts where execution_id = any(${uuidArray([...this.outstanding])}::uuid[])`;
    for (const r of rows) if (this.outstanding.delete(r.id)) this.done++;
    return this.done;
  }
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
