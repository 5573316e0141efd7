import { asc, eq } from 'drizzle-orm';
import type { Queryable } from '../db/client.ts';
import { policyDecisions } from '../db/schema.ts';

export type PolicyDecisionRow = typeof policyDecisions.$inferSelect;
export type NewPolicyDecisionRow = typeof policyDecisions.$inferInsert;

export async function insertDecisions(db: Queryable, rows: NewPolicyDecisionRow[]): Promise<void> {
  if (rows.length > 0) await db.insert(policyDecisions).values(rows);
}

export async function findDecisionsForExecution(db: Queryable, executionId: string): Promise<PolicyDecisionRow[]> {
  return db.select().from(policyDecisions).where(eq(policyDecisions.executionId, executionId)).orderBy(asc(policyDecisions.createdAt), asc(policyDecisions.decisionId));
}
