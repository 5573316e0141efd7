import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The process's Prometheus metrics (spec §5 names exactly). One registry per process, created
 * once; `/metrics` serves it.
 */
export const registry = new Registry();
collectDefaultMetrics({ register: registry });

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
