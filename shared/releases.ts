import { z } from 'zod';
import { idSchema } from './api.ts';

/**
 * Canary releases, the error budget and Sev1 incidents (docs/ops/): the request shapes of the
 * tRPC procedures and REST paths, and the views the dashboard renders.
 */

export const releaseStatusSchema = z.enum(['active', 'completed', 'rolled_back']);
export type ReleaseStatus = z.infer<typeof releaseStatusSchema>;

/** Enters a published version as the canary of its workflow's release (starting one when none is active). */
export const releaseStartInputSchema = z.strictObject({ workflowId: idSchema });

export const releaseActionInputSchema = z.strictObject({
  id: idSchema,
  /** The release `version` the caller saw: a promote or rollback against a newer state is refused (no double click promotes twice). */
  expectedVersion: z.number().int().min(1).optional(),
  reason: z.string().min(1).max(500).optional(),
});

export const releaseListInputSchema = z.strictObject({
  workflowName: z.string().min(1).max(100).optional(),
  status: releaseStatusSchema.optional(),
  limit: z.number().int().min(1).max(200).default(50),
});

export const releaseIdInputSchema = z.strictObject({ id: idSchema });

/** Spec §13's breach simulator body: a metric of a service went over its threshold. */
export const breachInputSchema = z.strictObject({
  /** `mc` (every active canary of the caller's tenant) or a workflow name. */
  service: z.string().min(1).max(100),
  /** e.g. `p95LatencyMs`, `errorRate`, `denyRate`. */
  metric: z.string().min(1).max(100),
  value: z.number().finite(),
  threshold: z.number().finite(),
});
export type BreachInput = z.infer<typeof breachInputSchema>;

export interface ArmMetrics {
  /** Requests routed to the arm in the stage, denied ones included. */
  requests: number;
  denied: number;
  /** Executions that reached `succeeded` or `failed`: the samples. */
  finished: number;
  failed: number;
  /** Finished executions longer than the p95 threshold. */
  slow: number;
  p95Ms: number | null;
  errorRate: number | null;
  denyRate: number | null;
}

export interface MetricCheck {
  metric: 'p95Ms' | 'errorRate' | 'denyRate';
  value: number | null;
  threshold: number;
  /** `breach` when the metric is over its threshold even counting missing samples as good. */
  result: 'pass' | 'breach' | 'no_data';
}

export type AnalysisVerdict = 'breach' | 'insufficient_data' | 'window_open' | 'pass';

export interface Analysis {
  at: string;
  stage: number;
  weight: number;
  windowStartedAt: string;
  windowMs: number;
  elapsedMs: number;
  minSamples: number;
  canary: ArmMetrics;
  stable: ArmMetrics;
  checks: MetricCheck[];
  verdict: AnalysisVerdict;
}

export interface ReleaseEventView {
  id: number;
  at: Date;
  kind: string;
  actor: string;
  stage: number;
  fromWeight: number | null;
  toWeight: number | null;
  data: Record<string, unknown>;
}

export interface ReleaseView {
  id: string;
  workflowName: string;
  stable: { id: string; version: string };
  canary: { id: string; version: string };
  status: ReleaseStatus;
  weight: number;
  stage: number;
  stageWeights: number[];
  stageWindowsMs: number[];
  stageStartedAt: Date;
  version: number;
  startedBy: string;
  createdAt: Date;
  finishedAt: Date | null;
  outcomeReason: string | null;
  lastAnalysis: Analysis | null;
  lastAnalyzedAt: Date | null;
  thresholds: { p95Ms: number; errorRate: number; denyRate: number; minSamples: number };
}

export interface ReleaseDetail extends ReleaseView {
  events: ReleaseEventView[];
}

export interface ErrorBudgetView {
  slo: number;
  windowDays: number;
  budgetMinutes: number;
  remainingRatio: number;
  /** Share of the budget burned per hour, measured over the last 15 minutes. */
  burnRatePerHour: number;
  /** Share of the budget burned over the last 24 hours. */
  burnLast24h: number;
  dailyBurn: { day: string; burn: number }[];
  freeze: { active: boolean; since: Date | null; manual: boolean };
  evaluatedAt: Date | null;
  alerts: OpsAlertView[];
}

export interface OpsAlertView {
  id: string;
  kind: string;
  at: Date;
  data: Record<string, unknown>;
}

export interface IncidentView {
  id: string;
  severity: string;
  criterion: string;
  openedAt: Date;
  clearedAt: Date | null;
  evidence: Record<string, unknown>;
  actions: Record<string, unknown>;
}
