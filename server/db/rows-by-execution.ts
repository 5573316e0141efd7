/**
 * The rows of a statement that read several executions at once (`execution_id = any(…)`), handed
 * back per execution: every id asked for has an entry (empty when it had no rows), and each
 * execution's rows keep the statement's order.
 */
export function rowsByExecution<R extends { executionId: string | null }>(executionIds: readonly string[], rows: readonly R[]): Map<string, R[]> {
  const byId = new Map<string, R[]>(executionIds.map((id) => [id, []]));
  for (const row of rows) if (row.executionId) byId.get(row.executionId)?.push(row);
  return byId;
}
