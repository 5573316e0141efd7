import type { Analysis, AnalysisVerdict, ArmMetrics, MetricCheck } from '@mc/shared/releases';

/**
 * The canary's verdict for one stage (rollout playbook step 3: p95 < 900 ms, errors < 1 %,
 * denies < 5 %). Pure: the controller, manual promotion and the report all judge the same way.
 *
 * Missing samples are counted as *good* when looking for a breach and as *absent* when looking
 * for a pass. So a failure is a breach as soon as it alone exceeds the threshold over
 * `max(samples, minSamples)` (one failure in a quiet canary rolls it back at once), while a
 * pass needs `minSamples` finished executions and the whole window: no data is never a pass.
 */
export interface Thresholds {
  p95Ms: number;
  errorRate: number;
  denyRate: number;
  minSamples: number;
}

/** p95 > T exactly when more than 5 % of the samples are slower than T. */
const p95Tail = 0.05;

export function analyse(input: {
  at: Date;
  stage: number;
  weight: number;
  windowStartedAt: Date;
  windowMs: number;
  canary: ArmMetrics;
  stable: ArmMetrics;
  thresholds: Thresholds;
}): Analysis {
  const { canary: c, thresholds: t } = input;
  const samplesFloor = Math.max(c.finished, t.minSamples);
  const requestsFloor = Math.max(c.requests, t.minSamples);
  const enough = c.finished >= t.minSamples;
  const check = (metric: MetricCheck['metric'], value: number | null, threshold: number, breach: boolean): MetricCheck => ({
    metric,
    value,
    threshold,
    result: breach ? 'breach' : enough ? 'pass' : 'no_data',
  });
  const checks: MetricCheck[] = [
    check('p95Ms', c.p95Ms, t.p95Ms, c.slow / samplesFloor > p95Tail),
    // The playbook's pass is strict (errorRate < 1 %, denies < 5 %): reaching a threshold is a breach.
    check('errorRate', c.errorRate, t.errorRate, c.failed > 0 && c.failed / samplesFloor >= t.errorRate),
    check('denyRate', c.denyRate, t.denyRate, c.denied > 0 && c.denied / requestsFloor >= t.denyRate),
  ];
  const elapsedMs = Math.max(0, input.at.getTime() - input.windowStartedAt.getTime());
  const verdict: AnalysisVerdict = checks.some((x) => x.result === 'breach')
    ? 'breach'
    : !enough
      ? 'insufficient_data'
      : elapsedMs < input.windowMs
        ? 'window_open'
        : 'pass';
  return {
    at: input.at.toISOString(),
    stage: input.stage,
    weight: input.weight,
    windowStartedAt: input.windowStartedAt.toISOString(),
    windowMs: input.windowMs,
    elapsedMs,
    minSamples: t.minSamples,
    canary: c,
    stable: input.stable,
    checks,
    verdict,
  };
}

/** Raw counts of an arm into its metrics (rates are null without a denominator). */
export function armMetrics(raw: { requests: number; denied: number; finished: number; failed: number; slow: number; p95Ms: number | null }): ArmMetrics {
  return {
    ...raw,
    errorRate: raw.finished > 0 ? raw.failed / raw.finished : null,
    denyRate: raw.requests > 0 ? raw.denied / raw.requests : null,
  };
}
