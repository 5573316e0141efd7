import { asc, eq, inArray } from 'drizzle-orm';
import { insertRowsAtCommit, type Queryable } from '../db/client.ts';
import { rowsByExecution } from '../db/rows-by-execution.ts';
import { policyDecisions } from '../db/schema.ts';

export type PolicyDecisionRow = typeof policyDecisions.$inferSelect;
export type NewPolicyDecisionRow = typeof policyDecisions.$inferInsert;

/** On a transaction, sent with its COMMIT (`writeAtCommit`): nothing in the transaction reads decisions back. */
export async function insertDecisions(db: Queryable, rows: NewPolicyDecisionRow[]): Promise<void> {
  await insertRowsAtCommit(db, policyDecisions, rows);
}

export async function findDecisionsForExecution(db: Queryable, executionId: string): Promise<PolicyDecisionRow[]> {
  return db.select().from(policyDecisions).where(eq(policyDecisions.executionId, executionId)).orderBy(asc(policyDecisions.createdAt), asc(policyDecisions.decisionId));
}

/** The decisions of several executions in one statement, each execution's in the order `findDecisionsForExecution` gives. */
export async function findDecisionsForExecutions(db: Queryable, executionIds: readonly string[]): Promise<Map<string, PolicyDecisionRow[]>> {
  const rows = executionIds.length === 0
    ? []
    : await db.select().from(policyDecisions).where(inArray(policyDecisions.executionId, [...executionIds])).orderBy(asc(policyDecisions.createdAt), asc(policyDecisions.decisionId));
  return rowsByExecution(executionIds, rows);
}
