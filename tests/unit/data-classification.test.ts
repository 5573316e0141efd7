import { describe, expect, it } from 'bun:test';
import { getTableColumns, getTableName, is } from 'drizzle-orm';
import { PgTable } from 'drizzle-orm/pg-core';
import { columnClassification, encryptedColumns, unencryptedRegulatedColumns } from '@mc/server/db/classification';
import * as schema from '@mc/server/db/schema';
import { dataClassifications } from '@mc/shared/policy';

const tables: [string, PgTable][] = Object.entries(schema as Record<string, unknown>).flatMap(([name, value]) => (is(value, PgTable) ? [[name, value] as [string, PgTable]] : []));
const classes = columnClassification as Record<string, Record<string, string>>;

describe('data classification (spec §3)', () => {
  it('gives every column of every table a data class', () => {
    const missing = tables.flatMap(([name, table]) =>
      Object.keys(getTableColumns(table))
        .filter((column) => !classes[name]?.[column])
        .map((column) => `${name}.${column} (${getTableName(table)})`),
    );
    // A new column without a class fails here: add it to server/db/classification.ts.
    expect(missing).toEqual([]);
  });

  it('classifies no table or column the schema does not have', () => {
    const known = new Map(tables.map(([name, table]) => [name, new Set(Object.keys(getTableColumns(table)))]));
    const stale = Object.entries(classes).flatMap(([name, cols]) => Object.keys(cols).filter((c) => !known.get(name)?.has(c)).map((c) => `${name}.${c}`));
    expect(stale).toEqual([]);
  });

  it('uses only the four classes', () => {
    const used = new Set(Object.values(classes).flatMap((cols) => Object.values(cols)));
    for (const c of used) expect(dataClassifications as readonly string[]).toContain(c);
  });

  it('stores every regulated column encrypted, or lists it as a known gap', () => {
    const listed = new Set([...encryptedColumns, ...unencryptedRegulatedColumns].map(([t, c]) => `${t}.${c}`));
    const regulated = Object.entries(classes).flatMap(([t, cols]) => Object.entries(cols).filter(([, v]) => v === 'regulated').map(([c]) => `${t}.${c}`));
    expect(regulated.filter((r) => !listed.has(r))).toEqual([]);
    for (const [t, c] of encryptedColumns) expect(classes[t]?.[c]).toBe('regulated');
  });
});
