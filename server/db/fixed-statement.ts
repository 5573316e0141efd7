import { fillPlaceholders, type Query, type SQL } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import { drizzle } from 'drizzle-orm/postgres-js';
import type postgres from 'postgres';
import type { Queryable } from './client.ts';
import * as schema from './schema.ts';

/** Builds statements' text only; it never connects. */
const renderer = drizzle.mock({ schema });
const dialect = new PgDialect();

type Rendered = SQL | { toSQL(): Query };

/**
 * A statement on a hot path whose text never changes: drizzle builds and renders it once per
 * process, not at every call — building a select or an insert and rendering it took 32–110 µs of
 * CPU each (measured), for statements Postgres then runs in well under a millisecond. Values go in
 * by name (`sql.placeholder('id')`); a placeholder bound to a column is encoded by that column as
 * drizzle would (an insert's values, say), a bare one goes to the driver as given. The statement
 * is always named (prepared per connection): its text is fixed, so it cannot multiply.
 *
 * Rows come back as the driver gives them — snake_case names, timestamps as text: map them with
 * `rowOf` (server/db/raw-rows.ts). `build` gets a drizzle instance that only renders.
 */
export function fixedStatement<Names extends string>(build: (q: typeof renderer) => Rendered) {
  let query: Query | null = null;
  return (db: Queryable, values: Record<Names, unknown>): Promise<Record<string, unknown>[]> => {
    query ??= render(build(renderer));
    return clientOf(db).unsafe(query.sql, fillPlaceholders(query.params, values) as postgres.ParameterOrJSON<never>[], { prepare: true });
  };
}

function render(r: Rendered): Query {
  return 'toSQL' in r ? r.toSQL() : dialect.sqlToQuery(r);
}

/** The postgres.js client under a drizzle database or transaction (the transaction's own connection). */
function clientOf(db: Queryable): postgres.Sql {
  return (db as unknown as { session: { client: postgres.Sql } }).session.client;
}
