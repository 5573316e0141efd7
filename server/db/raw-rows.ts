import { getTableColumns, sql, type Column, type SQL, type Table } from 'drizzle-orm';
import { executions } from './schema.ts';

type ColumnReader = { key: string; rawName: string; column: Column };

/** Per table, per prefix: each column's key, its name in a raw result, and the column (rowOf's hot path). */
const readersByTable = new WeakMap<Table, Map<string, ColumnReader[]>>();

function readersOf(table: Table, prefix: string): ColumnReader[] {
  let byPrefix = readersByTable.get(table);
  if (!byPrefix) readersByTable.set(table, (byPrefix = new Map()));
  let readers = byPrefix.get(prefix);
  if (!readers) {
    readers = Object.entries(getTableColumns(table)).map(([key, column]) => ({ key, rawName: prefix + column.name, column }));
    byPrefix.set(prefix, readers);
  }
  return readers;
}

/**
 * A table's row from a raw `db.execute` result (snake_case names, values as the driver gave them),
 * mapped as drizzle's own selects map it: each column's `mapFromDriverValue`. For statements
 * drizzle cannot build (data-modifying CTEs) that return a table's columns with `returning *`.
 * The column list is worked out once per table and prefix: every claim and completion reads rows
 * through here.
 */
export function rowOf<T extends Table>(table: T, raw: Record<string, unknown>, prefix = ''): T['$inferSelect'] {
  const out: Record<string, unknown> = {};
  for (const { key, rawName, column } of readersOf(table, prefix)) {
    const value = raw[rawName];
    out[key] = value === null || value === undefined ? null : column.mapFromDriverValue(value);
  }
  return out as T['$inferSelect'];
}

/**
 * A table's columns for a raw statement's select list, each under `prefix` (`alias.col as
 * "<prefix>col"`), so that rows of several tables can share one result row; read back with
 * `rowOf(table, raw, prefix)`.
 */
export function prefixedColumns(table: Table, alias: string, prefix: string): SQL {
  return sql.join(
    Object.values(getTableColumns(table)).map((c) => sql`${sql.identifier(alias)}.${sql.identifier(c.name)} as ${sql.identifier(prefix + c.name)}`),
    sql`, `,
  );
}

/** A `timestamptz` value from a raw result, as drizzle maps one (the driver hands it over as text). */
export function timestampOf(value: unknown): Date {
  return executions.createdAt.mapFromDriverValue(value as string) as Date;
}
