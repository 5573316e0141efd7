import { describe, expect, it } from 'bun:test';
import { analyse, armMetrics } from '@mc/server/releases/canary-analysis';
import { detectSev1 } from '@mc/server/releases/sev1-detection';

const thresholds = { p95Ms: 900, errorRate: 0.01, denyRate: 0.05, minSamples: 20 };
const start = new Date('2025-10-01T00:00:00Z');
const arm = (x: Partial<{ requests: number; denied: number; finished: number; failed: number; slow: number; p95Ms: number | null }>) =>
  armMetrics({ requests: 0, denied: 0, finished: 0, failed: 0, slow: 0, p95Ms: null, ...x });
const judge = (canary: ReturnType<typeof arm>, elapsedMs = 31 * 60_000) =>
  analyse({ at: new Date(start.getTime() + elapsedMs), stage: 0, weight: 10, windowStartedAt: start, windowMs: 30 * 60_000, canary, stable: arm({}), thresholds });

describe('canary analysis (rollout playbook step 3)', () => {
  it('passes a whole window of enough healthy samples', () => {
    expect(judge(arm({ requests: 40, finished: 40, p95Ms: 120 })).verdict).toBe('pass');
  });

  it('never passes without data: no traffic, or fewer samples than the minimum, however long', () => {
    expect(judge(arm({}), 10 * 3_600_000).verdict).toBe('insufficient_data');
    expect(judge(arm({ requests: 19, finished: 19, p95Ms: 50 }), 10 * 3_600_000).verdict).toBe('insufficient_data');
    expect(judge(arm({}), 10 * 3_600_000).checks.every((c) => c.result === 'no_data')).toBe(true);
  });

  it('holds a healthy canary until its window has passed', () => {
    expect(judge(arm({ requests: 40, finished: 40, p95Ms: 120 }), 29 * 60_000).verdict).toBe('window_open');
  });

  it('calls a breach as soon as failures alone exceed the threshold, even with few samples', () => {
    const a = judge(arm({ requests: 2, finished: 2, failed: 1 }), 1000);
    expect(a.verdict).toBe('breach');
    expect(a.checks.find((c) => c.metric === 'errorRate')).toMatchObject({ result: 'breach', value: 0.5 });
  });

  it('breaches p95 when more than 5 % of samples are over 900 ms', () => {
    expect(judge(arm({ requests: 40, finished: 40, slow: 2, p95Ms: 850 })).verdict).toBe('pass');
    expect(judge(arm({ requests: 40, finished: 40, slow: 3, p95Ms: 950 })).verdict).toBe('breach');
  });

  it('breaches on a deny rate of 5 % or more', () => {
    expect(judge(arm({ requests: 40, denied: 2, finished: 38 })).verdict).toBe('breach');
    expect(judge(arm({ requests: 40, denied: 1, finished: 39 })).verdict).toBe('pass');
  });

  it('passes only strictly under the error threshold: 0.5 % passes, 1 % breaches', () => {
    expect(judge(arm({ requests: 200, finished: 200, failed: 1 })).verdict).toBe('pass');
    expect(judge(arm({ requests: 100, finished: 100, failed: 1 })).verdict).toBe('breach');
  });
});

describe('Sev1 criteria (incident playbook)', () => {
  it('fires on API 5xx over 5 % with enough requests', () => {
    const [api] = detectSev1({ api: { total: 100, errors5xx: 6 }, publishToStart: { samples: 0, p95Ms: null }, minSamples: 20 });
    expect(api!.breached).toBe(true);
    expect(detectSev1({ api: { total: 100, errors5xx: 5 }, publishToStart: { samples: 0, p95Ms: null }, minSamples: 20 })[0]!.breached).toBe(false);
    expect(detectSev1({ api: { total: 10, errors5xx: 10 }, publishToStart: { samples: 0, p95Ms: null }, minSamples: 20 })[0]!.breached).toBe(false);
  });

  it('fires on publish→start p95 over 5 s', () => {
    expect(detectSev1({ api: { total: 0, errors5xx: 0 }, publishToStart: { samples: 30, p95Ms: 5001 }, minSamples: 20 })[1]!.breached).toBe(true);
    expect(detectSev1({ api: { total: 0, errors5xx: 0 }, publishToStart: { samples: 30, p95Ms: 5000 }, minSamples: 20 })[1]!.breached).toBe(false);
  });
});
