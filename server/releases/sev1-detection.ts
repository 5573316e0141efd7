/**
 * Sev1 criteria of the incident playbook (spec §10): API 5xx > 5 % over 5 minutes, or
 * publish→start p95 > 5 s over 10 minutes. Pure; each is measured over its trailing window and
 * needs a minimum of traffic, so one failed request at 3 a.m. is not a Sev1.
 */
export const sev1Criteria = {
  api_5xx_rate: { windowMinutes: 5, threshold: 0.05 },
  publish_to_start_p95: { windowMinutes: 10, thresholdMs: 5000 },
} as const;

export type Sev1Criterion = keyof typeof sev1Criteria;

export interface Sev1Finding {
  criterion: Sev1Criterion;
  breached: boolean;
  evidence: Record<string, unknown>;
}

export function detectSev1(input: {
  api: { total: number; errors5xx: number };
  publishToStart: { samples: number; p95Ms: number | null };
  minSamples: number;
}): Sev1Finding[] {
  const { api, publishToStart, minSamples } = input;
  const rate = api.total > 0 ? api.errors5xx / api.total : null;
  const c = sev1Criteria;
  return [
    {
      criterion: 'api_5xx_rate',
      breached: api.total >= minSamples && rate !== null && rate > c.api_5xx_rate.threshold,
      evidence: { ...api, rate, threshold: c.api_5xx_rate.threshold, windowMinutes: c.api_5xx_rate.windowMinutes, minSamples },
    },
    {
      criterion: 'publish_to_start_p95',
      breached: publishToStart.samples >= minSamples && publishToStart.p95Ms !== null && publishToStart.p95Ms > c.publish_to_start_p95.thresholdMs,
      evidence: { ...publishToStart, thresholdMs: c.publish_to_start_p95.thresholdMs, windowMinutes: c.publish_to_start_p95.windowMinutes, minSamples },
    },
  ];
}
