import { getTableColumns, getTableName, is, SQL, sql, type Column, type Table } from 'drizzle-orm';
import type { Queryable } from './client.ts';
import { fixedStatement } from './fixed-statement.ts';

/**
 * Rows for one table, inserted by a statement of fixed text: the rows go as one JSON parameter
 * (`jsonb_to_recordset`), so the statement is rendered once per process and prepared once per
 * connection, whatever the number of rows. Rendering a drizzle insert at every call was ~12 % of
 * the server's CPU on the start path (a start's decisions, steps and data key; Chrome profile,
 * 2026-11-25), and a group commit rendered one such insert per start in it; rows of several
 * writes to one table (the starts of one group commit) go in one statement here.
 *
 * Same meaning as drizzle's insert: a column a row gives (null included) is written, one it
 * leaves out gets the column's default. Writes that give different columns go in different
 * statements (each of fixed text for its set of columns). `rowsWrite` returns null — the caller
 * inserts with drizzle then — when the rows of one write give different columns, or a value
 * cannot travel as JSON as it is (an SQL expression, a column type not listed below).
 */
export interface RowsWrite {
  readonly kind: 'rows';
  readonly table: Table;
  readonly onConflictDoNothing: boolean;
  /** Rows as JSON objects keyed by column name, in the order given. */
  readonly rows: readonly Record<string, unknown>[];
  /** Table, conflict clause and the columns given: rows with one key share a statement. */
  readonly key: string;
  readonly columns: readonly Column[];
}

// Types that JSON carries as is (text, numbers, booleans, ISO timestamps, json itself).
const jsonCarried = /^(uuid|text|boolean|smallint|integer|bigint|jsonb?|numeric(\(\d+, ?\d+\))?|timestamp( with time zone)?|varchar(\(\d+\))?)$/;
const ordKey = '__mc_ord';

export function rowsWrite<T extends Table>(table: T, rows: readonly T['$inferInsert'][], opts: { onConflictDoNothing?: boolean } = {}): RowsWrite | null {
  if (rows.length === 0) return null;
  const byProperty = getTableColumns(table) as Record<string, Column>;
  const given = Object.keys(rows[0]!)
    .filter((k) => (rows[0] as Record<string, unknown>)[k] !== undefined)
    .sort();
  const columns: Column[] = [];
  for (const property of given) {
    const column = byProperty[property];
    if (!column || !jsonCarried.test(column.getSQLType())) return null;
    columns.push(column);
  }
  const encoded: Record<string, unknown>[] = [];
  for (const [i, row] of rows.entries()) {
    const values = row as Record<string, unknown>;
    // One statement per set of columns: rows that give others go through drizzle (never seen on the hot paths).
    if (Object.keys(values).filter((k) => values[k] !== undefined).length !== columns.length || given.some((k) => values[k] === undefined)) return null;
    const out: Record<string, unknown> = { [ordKey]: i };
    for (const property of given) {
      const column = byProperty[property]!;
      const value = encode(column, values[property]);
      if (value === unencodable) return null;
      out[column.name] = value;
    }
    encoded.push(out);
  }
  const onConflictDoNothing = opts.onConflictDoNothing === true;
  return { kind: 'rows', table, onConflictDoNothing, rows: encoded, columns, key: `${getTableName(table)}|${onConflictDoNothing}|${columns.map((c) => c.name).join(',')}` };
}

const unencodable = Symbol('unencodable');

function encode(column: Column, value: unknown): unknown {
  if (value === null) return null;
  if (is(value, SQL) || (typeof value === 'object' && value !== null && 'getSQL' in value)) return unencodable;
  // json columns: the value itself, nested in the document (drizzle would send it as text).
  if (column.getSQLType().startsWith('json')) return value;
  const driver: unknown = column.mapToDriverValue(value);
  if (driver instanceof Date) return driver.toISOString();
  if (typeof driver === 'string' || typeof driver === 'boolean' || (typeof driver === 'number' && Number.isFinite(driver))) return driver;
  return unencodable;
}

const statements = new Map<string, ReturnType<typeof fixedStatement<'rows'>>>();

function statementFor(w: RowsWrite) {
  let statement = statements.get(w.key);
  if (!statement) {
    const names = sql.join(
      w.columns.map((c) => sql.identifier(c.name)),
      sql`, `,
    );
    const values = sql.join(
      w.columns.map((c) => sql`r.${sql.identifier(c.name)}`),
      sql`, `,
    );
    const definitions = sql.join([sql`${sql.identifier(ordKey)} int`, ...w.columns.map((c) => sql`${sql.identifier(c.name)} ${sql.raw(c.getSQLType())}`)], sql`, `);
    const table = w.table;
    const conflict = w.onConflictDoNothing ? sql` on conflict do nothing` : sql``;
    statement = fixedStatement<'rows'>(
      () => sql`insert into ${table} (${names}) select ${values} from jsonb_to_recordset(${sql.placeholder('rows')}::jsonb) as r(${definitions}) order by r.${sql.identifier(ordKey)}${conflict}`,
    );
    statements.set(w.key, statement);
  }
  return statement;
}

/**
 * Sends `writes` as few statements as their keys allow: the rows of writes with one key in one
 * statement, in the order the writes came. Statements go out in the order of each key's first
 * write, all before the first answer comes back.
 */
export function sendRowsWrites(db: Queryable, writes: readonly RowsWrite[]): Promise<unknown>[] {
  const byKey = new Map<string, { first: RowsWrite; rows: Record<string, unknown>[] }>();
  for (const w of writes) {
    const group = byKey.get(w.key) ?? { first: w, rows: [] };
    byKey.set(w.key, group);
    for (const row of w.rows) group.rows.push({ ...row, [ordKey]: group.rows.length });
  }
  return [...byKey.values()].map(({ first, rows }) => statementFor(first)(db, { rows: JSON.stringify(rows) }));
}
