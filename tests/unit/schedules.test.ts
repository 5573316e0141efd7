import { describe, expect, it } from 'bun:test';
import { fireTimesBetween, nextFireAfter, scheduleCreateInputSchema } from '@mc/shared/schedules';

const iso = (ms: number[]) => ms.map((t) => new Date(t).toISOString());
const at0230NewYork = { cron: '30 2 * * *', timezone: 'America/New_York', everyMs: null };

describe('schedule fire times (a pure function of the clock)', () => {
  it('fires a 02:30 America/New_York schedule once a day across the March change (02:30 does not exist on 8 March)', () => {
    const fires = fireTimesBetween(at0230NewYork, Date.parse('2026-03-06T12:00:00Z'), Date.parse('2026-03-10T12:00:00Z'));
    expect(iso(fires)).toEqual([
      '2026-03-07T07:30:00.000Z', // 02:30 EST
      '2026-03-08T07:30:00.000Z', // the skipped 02:30 runs at 03:30 EDT
      '2026-03-09T06:30:00.000Z', // 02:30 EDT
      '2026-03-10T06:30:00.000Z',
    ]);
  });

  it('fires it once across the November change, and a time in the repeated hour once too', () => {
    const fires = fireTimesBetween(at0230NewYork, Date.parse('2026-10-30T12:00:00Z'), Date.parse('2026-11-02T12:00:00Z'));
    expect(iso(fires)).toEqual(['2026-10-31T06:30:00.000Z', '2026-11-01T07:30:00.000Z', '2026-11-02T07:30:00.000Z']);
    const at0130 = { ...at0230NewYork, cron: '30 1 * * *' };
    const repeated = fireTimesBetween(at0130, Date.parse('2026-11-01T04:00:00Z'), Date.parse('2026-11-01T08:00:00Z'));
    expect(iso(repeated)).toEqual(['2026-11-01T05:30:00.000Z']);
  });

  it('fires fixed intervals on multiples of the interval', () => {
    expect(nextFireAfter({ cron: null, timezone: 'UTC', everyMs: 60_000 }, 90_000)).toBe(120_000);
    expect(fireTimesBetween({ cron: null, timezone: 'UTC', everyMs: 1000 }, 0, 3000)).toEqual([1000, 2000, 3000]);
  });

  it('validates a schedule: one of cron and everyMs, a known zone, a parseable cron', () => {
    const wf = '00000000-0000-4000-8000-000000000000';
    expect(scheduleCreateInputSchema.safeParse({ workflowId: wf, name: 'n', cron: '30 2 * * *', timezone: 'America/New_York' }).success).toBe(true);
    const paths = (v: unknown) => (scheduleCreateInputSchema.safeParse(v).error?.issues ?? []).map((i) => i.path.join('.'));
    expect(paths({ workflowId: wf, name: 'n' })).toContain('cron');
    expect(paths({ workflowId: wf, name: 'n', cron: '30 2 * * *', everyMs: 5000 })).toContain('cron');
    expect(paths({ workflowId: wf, name: 'n', cron: '30 2 * * *', timezone: 'Mars/Olympus' })).toContain('timezone');
    expect(paths({ workflowId: wf, name: 'n', cron: '99 99 * * * *' })).toContain('cron');
  });
});
