import { Column, is, Name, Param, Placeholder, SQL, sql as statement, StringChunk, Table, View, type SQLWrapper } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import * as schema from './schema.ts';
import { rowsWrite, sendRowsWrites, type RowsWrite } from './recordset-insert.ts';

export type Database = ReturnType<typeof createDatabase>['db'];
export type Transaction = Parameters<Parameters<Database['transaction']>[0]>[0];
/** Anything queries can run on: the pool or an open transaction. */
export type Queryable = Database | Transaction;

/** Seconds before the next connect after `retries` failed ones: 50 ms doubling, capped at 1 s, with jitter. */
export function reconnectDelaySeconds(retries: number): number {
  return (0.5 + Math.random() / 2) * Math.min(0.05 * 2 ** retries, 1);
}

/**
 * Above this many parameters a statement stays unnamed: such shapes vary with the data (bulk
 * inserts, long `IN` lists), and every named one is kept per connection until it closes.
 */
export const maxPreparedParameters = 100;

/**
 * drizzle sends every query with `prepare: false`: Postgres parses and plans it each time, and
 * postgres.js first asks for its parameter types and waits for the answer — two round trips and a
 * plan per statement. Named statements, cached per connection by their text, are planned once and
 * go out in one round trip after their first use; postgres.js re-prepares one that a schema change
 * invalidated. This client (and the transaction and savepoint clients it hands out) names every
 * statement with parameters, up to `maxPreparedParameters`; without parameters a query goes as a
 * simple query, as before.
 */
export function withNamedStatements<T extends postgres.Sql<any>>(client: T): T {
  return new Proxy(client, {
    get(target, prop, receiver) {
      if (prop === 'unsafe') {
        return (query: string, args?: unknown[], options?: { prepare?: boolean }) =>
          target.unsafe(query, args as never, {
            ...options,
            prepare: options?.prepare === true || (Array.isArray(args) && args.length > 0 && args.length <= maxPreparedParameters),
          });
      }
      if (prop === 'begin' || prop === 'savepoint') {
        const open = Reflect.get(target, prop, receiver) as (...a: unknown[]) => unknown;
        return (...a: unknown[]) => {
          const fn = a[a.length - 1];
          if (typeof fn !== 'function') return open(...a);
          return open(...a.slice(0, -1), (tx: postgres.Sql<any>) => fn(withNamedStatements(tx)));
        };
      }
      return Reflect.get(target, prop, receiver);
    },
  });
}

/** A drizzle statement builder (an insert, say) not sent yet: `writeAtCommit` may merge its SQL with others'. */
export interface UnsentWrite extends SQLWrapper {
  execute(): Promise<unknown>;
}

interface QueuedWrite {
  table: Table;
  /** A function when the write is rendered at commit, from what the transaction gathered by then. */
  write: UnsentWrite | (() => UnsentWrite) | RowsWrite;
}

/** Work queued on an open transaction, sent as its last statements (see `deferToCommit`). */
interface CommitQueue {
  /** `writeAtCommit`'s: sent first, merged into one statement when they can be. */
  writes: QueuedWrite[];
  /** `deferToCommit`'s: sent after the writes (`last` ones after all others), right before COMMIT. */
  work: (() => Promise<unknown>)[];
  last: (() => Promise<unknown>)[];
}
const beforeCommit = new WeakMap<object, CommitQueue>();

/**
 * Queues `work` to run on `tx` once the transaction's own callback has finished: its statements
 * go out pipelined with the COMMIT, with no round trip to this process between them. `last`
 * work goes after all other queued work: it is for a write that takes a lock every appender
 * contends for (the audit chain's), held then only while Postgres runs that write and the commit,
 * never while this process's event loop gets around to the next step. `work` must send its
 * statements before it first awaits. If one fails, Postgres turns the COMMIT into a rollback and
 * the transaction rejects with that error. Returns false when `tx` was not opened by a database
 * of `createDatabase` (nothing is queued).
 */
export function deferToCommit(tx: object, work: () => Promise<unknown>, opts: { last?: boolean } = {}): boolean {
  const queued = beforeCommit.get(tx);
  if (!queued) return false;
  (opts.last ? queued.last : queued.work).push(work);
  return true;
}

/**
 * A write that nothing later in the transaction reads back (a history row, a decision record, a
 * companion row of one just inserted): on a transaction it is sent with the COMMIT instead of
 * costing a round trip of its own; on the pool, or a transaction without the hook, it runs now.
 * A transaction's writes go out together (`sendWrites`). `table`: the table it writes. `write`
 * may be a function, called at commit: a write that sums what several callers of one
 * transaction add (`addSpend`) is rendered once they have all added.
 */
export async function writeAtCommit(db: object, table: Table, write: UnsentWrite | (() => UnsentWrite) | RowsWrite): Promise<void> {
  const queued = beforeCommit.get(db);
  if (queued) queued.writes.push({ table, write });
  else if (isRowsWrite(write)) await Promise.all(sendRowsWrites(db as Queryable, [write]));
  else await (typeof write === 'function' ? write() : write).execute();
}

/**
 * Rows for `table`, sent with the transaction's COMMIT as `writeAtCommit` sends a write, in a
 * statement of fixed text (`rowsWrite`, server/db/recordset-insert.ts) — the rows of every such
 * write to the table in one — or, when they cannot travel as JSON, as a drizzle insert.
 */
export async function insertRowsAtCommit<T extends Table>(db: Queryable, table: T, rows: readonly T['$inferInsert'][], opts: { onConflictDoNothing?: boolean } = {}): Promise<void> {
  if (rows.length === 0) return;
  const fixed = rowsWrite(table, rows, opts);
  if (fixed) return writeAtCommit(db, table, fixed);
  const insert = db.insert(table as Table).values(rows as never);
  await writeAtCommit(db, table, opts.onConflictDoNothing ? insert.onConflictDoNothing() : insert);
}

function isRowsWrite(w: QueuedWrite['write']): w is RowsWrite {
  return typeof w === 'object' && 'kind' in w && w.kind === 'rows';
}

/** True when `db` is a transaction whose writes `writeAtCommit` holds for its COMMIT. */
export function holdsWritesToCommit(db: object): boolean {
  return beforeCommit.has(db);
}

/**
 * A transaction's queued writes in as few statements as can be: each statement a set of
 * data-modifying CTEs (Postgres runs every one, referenced or not), one statement to parse, plan
 * and answer instead of one per write. A statement writes a table once at most — one statement
 * may not change a row twice, as two upserts of one key would — so the second write to a table
 * goes in the next statement (a group commit's bodies each write the same tables: one statement
 * each, as when alone), and a statement stays within `maxPreparedParameters` (an unnamed one costs
 * postgres.js a round trip for its parameter types). Writes to one table keep their order.
 * Rows queued by `insertRowsAtCommit` skip all of that: they are never rendered, and the rows of
 * every such write to a table go in one statement of fixed text (server/db/recordset-insert.ts).
 */
function sendWrites(tx: Transaction, queued: readonly QueuedWrite[]): Promise<unknown> {
  const statements: { parts: SQL[]; params: number; writes: UnsentWrite[] }[] = [];
  const lastOf = new Map<Table, number>();
  const rows: RowsWrite[] = [];
  for (const q of queued) {
    if (isRowsWrite(q.write)) {
      rows.push(q.write);
      continue;
    }
    const write = typeof q.write === 'function' ? q.write() : q.write;
    // The builder's SQL itself: embedded as a builder, drizzle would wrap it in a second pair of parentheses.
    const part = write.getSQL();
    const params = paramsIn(part);
    let at = (lastOf.get(q.table) ?? -1) + 1;
    while (at < statements.length && statements[at]!.params + params > maxPreparedParameters && statements[at]!.parts.length > 0) at++;
    const target = statements[at] ?? (statements[at] = { parts: [], params: 0, writes: [] });
    target.parts.push(part);
    target.writes.push(write);
    target.params += params;
    lastOf.set(q.table, at);
  }
  return Promise.all([
    ...statements.map((s) => {
      if (s.writes.length === 1) return s.writes[0]!.execute();
      const ctes = s.parts.map((part, i) => statement`${statement.identifier(`w${i}`)} as (${part})`);
      return tx.execute(statement`with ${statement.join(ctes, statement`, `)} select 1`);
    }),
    // After the merged ones: a table written both ways (no caller does) gets its rows last.
    ...sendRowsWrites(tx, rows),
  ]);
}

/**
 * The parameters a statement will have, counted on its chunks without rendering it (rendering
 * twice, to count and then to send, cost more than the statement it saved): each bound value is
 * one, names and SQL text none.
 */
export function paramsIn(chunk: unknown): number {
  if (chunk === undefined || chunk === null) return chunk === null ? 1 : 0;
  if (is(chunk, Param) || is(chunk, Placeholder)) return 1;
  if (is(chunk, SQL)) return chunk.queryChunks.reduce((n: number, c) => n + paramsIn(c), 0);
  if (Array.isArray(chunk)) return chunk.reduce((n: number, c) => n + paramsIn(c), 0);
  if (is(chunk, StringChunk) || is(chunk, Name) || is(chunk, Table) || is(chunk, Column) || is(chunk, View)) return 0;
  if (typeof chunk === 'object' && 'getSQL' in chunk && typeof chunk.getSQL === 'function') return paramsIn(chunk.getSQL());
  return 1;
}

export function createDatabase(url: string, opts: { poolSize?: number } = {}) {
  const sql = postgres(url, {
    max: opts.poolSize ?? 10,
    onnotice: () => {},
    // Bounded connect so a down database surfaces as "unavailable" rather than a hang.
    connect_timeout: 5,
    // postgres.js counts failed connects pool-wide and waits (0.5–1) × min(3^n / 100, 20) s before
    // the next: a few seconds of outage under load pushes that to 7–20 s, so a restarted database
    // went unused for 13–17 s. Capped at 1 s, recovery follows the database within about a second.
    backoff: reconnectDelaySeconds,
  });
  const db = drizzle(withNamedStatements(sql), { schema });
  const open = db.transaction.bind(db);
  db.transaction = (async (fn: (tx: Transaction) => Promise<unknown>, config?: Parameters<typeof open>[1]) => {
    let deferred: Promise<unknown> | null = null;
    const result = await open(async (tx) => {
      const queued: CommitQueue = { writes: [], work: [], last: [] };
      beforeCommit.set(tx, queued);
      const value = await fn(tx);
      beforeCommit.delete(tx);
      // Sent now, in order, not awaited: postgres.js queues the COMMIT right behind them on the
      // connection. Settled to a value here so a failure is not an unhandled rejection before it
      // is read below.
      const works = [...(queued.writes.length > 0 ? [() => sendWrites(tx, queued.writes)] : []), ...queued.work, ...queued.last];
      if (works.length > 0) deferred = Promise.all(works.map((work) => work())).then(() => null, (e: unknown) => e ?? new Error('deferred statement failed'));
      return value;
    }, config);
    // A failed deferred statement aborted the transaction, and Postgres answered COMMIT with a
    // rollback that postgres.js does not report: nothing was committed, so this must reject.
    const failure = deferred ? await deferred : null;
    if (failure) throw failure;
    return result;
  }) as typeof db.transaction;
  return { db, sql, close: () => sql.end({ timeout: 5 }) };
}
