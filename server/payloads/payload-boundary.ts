import { randomUUID } from 'node:crypto';
import { findPii } from '@mc/shared/pii-detection';
import type { DataClassification } from '@mc/shared/policy';
import type { Queryable } from '../db/client.ts';
import type { executionSignals, executions, taskResults } from '../db/schema.ts';
import type { DataKeyRow } from './data-key-repository.ts';
import { payloadVaultFor } from './payload-vault.ts';

/**
 * What the repositories call at their boundaries (server/executions/repository.ts): rows go down
 * with payloads sealed and come up with them opened. Nothing above the repositories changes.
 */

type NewExecution = typeof executions.$inferInsert;
type ExecutionRow = typeof executions.$inferSelect;
type NewTaskResult = typeof taskResults.$inferInsert;
type TaskResultRow = typeof taskResults.$inferSelect;
type NewSignal = typeof executionSignals.$inferInsert;
type SignalRow = typeof executionSignals.$inferSelect;

/**
 * Spec §3, "Ingest → classified": execution inputs are `sensitive`; inputs in which PII is found
 * are `regulated` (the PII pack has already refused them unless the workflow is `regulated`).
 */
export function classifyInputs(inputs: unknown): DataClassification {
  return findPii(inputs, ['inputs']).length > 0 ? 'regulated' : 'sensitive';
}

/** Seals a new execution's inputs under a fresh data key; `storeKey` records the key once the row is inserted (same transaction). */
export async function sealNewExecution(db: Queryable, row: NewExecution): Promise<{ row: NewExecution & { id: string }; storeKey(db: Queryable): Promise<void> }> {
  const vault = payloadVaultFor(db);
  const id = row.id ?? randomUUID();
  const dataKey = vault.newDataKey();
  const owner = { executionId: id, tenantId: row.tenantId, region: row.region };
  const inputs = await vault.sealWith(owner, dataKey, row.inputs ?? {});
  return {
    row: { ...row, id, inputs, inputsClass: row.inputsClass ?? classifyInputs(row.inputs ?? {}) },
    storeKey: (tx) => vault.storeDataKey(tx, owner, dataKey),
  };
}

export async function openExecution<T extends Pick<ExecutionRow, 'id' | 'inputs'>>(db: Queryable, row: T, keyRow?: DataKeyRow | null): Promise<T> {
  const vault = payloadVaultFor(db);
  return { ...row, inputs: keyRow === undefined ? await vault.open(db, row.id, row.inputs) : await vault.openUnder(row.id, keyRow, row.inputs) };
}

/** `keyRow`: the execution's data key row when the caller already holds it (saves its read). */
export async function sealTaskResult(db: Queryable, row: NewTaskResult, keyRow?: DataKeyRow | null): Promise<NewTaskResult> {
  const vault = payloadVaultFor(db);
  return { ...row, output: keyRow === undefined ? await vault.seal(db, row.executionId, row.output) : await vault.sealUnder(row.executionId, keyRow, row.output) };
}

export async function openTaskResult<T extends Pick<TaskResultRow, 'executionId' | 'output'>>(db: Queryable, row: T): Promise<T> {
  return { ...row, output: await payloadVaultFor(db).open(db, row.executionId, row.output) };
}

/**
 * Signal payloads (`executions.signal`) are sealed under their execution's data key like task
 * outputs, so an erase makes them unreadable too. No payload (null) stays null: nothing to protect.
 */
export async function sealSignal(db: Queryable, row: NewSignal): Promise<NewSignal> {
  if (row.payload === undefined || row.payload === null) return { ...row, payload: null };
  return { ...row, payload: await payloadVaultFor(db).seal(db, row.executionId, row.payload) };
}

export async function openSignal<T extends Pick<SignalRow, 'executionId' | 'payload'>>(db: Queryable, row: T): Promise<T> {
  if (row.payload === null) return row;
  return { ...row, payload: await payloadVaultFor(db).open(db, row.executionId, row.payload) };
}
