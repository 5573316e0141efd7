import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The process's Prometheus metrics (spec §5 names exactly). One registry per process, created
 * once; `/metrics` serves it.
 */
export const registry = new Registry();
collectDefaultMetrics({ register: registry });
// prom-client names these gauges `*_total`, which `promtool check metrics` rejects (a `_total`
// suffix is for counters); they are dropped rather than served under a misleading name.
for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) registry.removeSingleMetric(name);

export const policyDeniesTotal = new Counter({
  name: 'mc_policy_denies_total',
  help: 'Policy decisions that denied, by pack and reason',
  labelNames: ['pack', 'reason'] as const,
  registers: [registry],
});

export const publishToStartMs = new Histogram({
  name: 'mc_publish_to_start_ms',
  help: 'Time from an execution being accepted to its first task starting, in milliseconds',
  buckets: [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000],
  registers: [registry],
});

export const receiptsSignedTotal = new Counter({
  name: 'mc_receipts_signed_total',
  help: 'Receipts signed and stored',
  labelNames: ['status'] as const,
  registers: [registry],
});

export const httpRequestsTotal = new Counter({
  name: 'http_requests_total',
  help: 'HTTP requests answered, by method, route and status',
  labelNames: ['method', 'route', 'status'] as const,
  registers: [registry],
});

// ---- Beyond spec §5's four (issue 6); docs/observability/TELEMETRY.md lists each with its labels.

/** Jobs per BullMQ queue and state; set on each scrape (server/observability/scrape.ts). */
export const queueJobs = new Gauge({
  name: 'mc_queue_jobs',
  help: 'Jobs in each queue by state, read from Redis when /metrics is scraped',
  labelNames: ['queue', 'state'] as const,
  registers: [registry],
});

/**
 * Workers connected but not consuming (issue 9): a queue with jobs waiting and none active for
 * longer than MC_QUEUE_STALL_SECONDS. Set wherever queue counts are read (scrape, /readyz).
 */
export const queueStalled = new Gauge({
  name: 'mc_queue_stalled',
  help: 'Whether a task queue has had jobs waiting and none active for longer than MC_QUEUE_STALL_SECONDS (1) or not (0)',
  labelNames: ['queue'] as const,
  registers: [registry],
});

// Per queue, when it was first seen with work waiting and nothing active (cleared once it moves).
const idleWithWorkSince = new Map<string, number>();

/** Records one reading of a queue's counts (waiting = wait + prioritized); true when it has been stuck longer than the threshold. */
export function observeQueueStall(prefix: string, queue: string, counts: { waiting: number; active: number }, stallSeconds: number, now = Date.now()): boolean {
  // Keyed by prefix too: processes (and test stacks) that share a Redis keep their queues apart by prefix.
  const key = `${prefix}:${queue}`;
  let stalled = false;
  if (counts.waiting > 0 && counts.active === 0) {
    const since = idleWithWorkSince.get(key) ?? now;
    idleWithWorkSince.set(key, since);
    stalled = now - since >= stallSeconds * 1000;
  } else {
    idleWithWorkSince.delete(key);
  }
  queueStalled.set({ queue }, stalled ? 1 : 0);
  return stalled;
}

export const taskDurationSeconds = new Histogram({
  name: 'mc_task_duration_seconds',
  help: 'Task attempts run by workers, by task package and outcome (succeeded, failed, retrying, reused)',
  labelNames: ['package', 'outcome'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
  registers: [registry],
});

export const receiptVerificationFailuresTotal = new Counter({
  name: 'mc_receipt_verification_failures_total',
  help: 'Receipt verifications that failed, by where they ran (issue, verify, disclosure)',
  labelNames: ['where'] as const,
  registers: [registry],
});

export const pdpLatencySeconds = new Histogram({
  name: 'mc_pdp_latency_seconds',
  help: 'Policy decision point latency per decision, by pack and backend (embedded, opa)',
  labelNames: ['pack', 'backend'] as const,
  buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  registers: [registry],
});

export const outboxPendingEvents = new Gauge({
  name: 'mc_event_outbox_pending',
  help: 'Audit events committed but not yet published to the mc-events bus; set on each scrape',
  registers: [registry],
});

export const outboxOldestAgeSeconds = new Gauge({
  name: 'mc_event_outbox_oldest_age_seconds',
  help: 'Age of the oldest audit event not yet published to the mc-events bus (0 when none); set on each scrape',
  registers: [registry],
});

export const receiptsPending = new Gauge({
  name: 'mc_receipts_pending',
  help: 'Executions finished and waiting for their signed receipt to be stored (status receipt_pending); set on each scrape',
  registers: [registry],
});

export const receiptsPendingOldestAgeSeconds = new Gauge({
  name: 'mc_receipts_pending_oldest_age_seconds',
  help: 'Seconds since the oldest receipt_pending execution finished (0 when none); set on each scrape',
  registers: [registry],
});

export const eventsPublishedTotal = new Counter({
  name: 'mc_events_published_total',
  help: 'Audit events added to the mc-events bus by the outbox relay',
  registers: [registry],
});

export const traceExportFailuresTotal = new Counter({
  name: 'mc_trace_export_failures_total',
  help: 'Spans the OTLP exporter failed to deliver',
  registers: [registry],
});

/**
 * Error budget (spec §9), per tenant. The worker evaluates and stores it; the server reads the
 * stored evaluation when scraped, through the source server/releases/ installs here.
 */
let errorBudgetSource: (() => Promise<void>) | null = null;
export function setErrorBudgetGaugeSource(source: () => Promise<void>): void {
  errorBudgetSource = source;
}

export const errorBudgetRemainingRatio = new Gauge({
  name: 'mc_error_budget_remaining_ratio',
  help: 'Share of the error budget left over the SLO window (1 = untouched, below 0 = overspent)',
  labelNames: ['tenant'] as const,
  registers: [registry],
  collect: () => errorBudgetSource?.(),
});

export const errorBudgetBurnRate = new Gauge({
  name: 'mc_error_budget_burn_rate',
  help: 'Share of the error budget burned: per hour over the last 15 minutes (window="15m"), or over the last 24 hours (window="24h")',
  labelNames: ['tenant', 'window'] as const,
  registers: [registry],
  collect: () => errorBudgetSource?.(),
});
