import { asc, eq } from 'drizzle-orm';
import { writeAtCommit, type Queryable } from '../db/client.ts';
import { policyDecisions } from '../db/schema.ts';

export type PolicyDecisionRow = typeof policyDecisions.$inferSelect;
export type NewPolicyDecisionRow = typeof policyDecisions.$inferInsert;

/** On a transaction, sent with its COMMIT (`writeAtCommit`): nothing in the transaction reads decisions back. */
export async function insertDecisions(db: Queryable, rows: NewPolicyDecisionRow[]): Promise<void> {
  if (rows.length > 0) await writeAtCommit(db, () => db.insert(policyDecisions).values(rows).execute());
}

export async function findDecisionsForExecution(db: Queryable, executionId: string): Promise<PolicyDecisionRow[]> {
  return db.select().from(policyDecisions).where(eq(policyDecisions.executionId, executionId)).orderBy(asc(policyDecisions.createdAt), asc(policyDecisions.decisionId));
}
