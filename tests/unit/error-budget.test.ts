import { describe, expect, it } from 'bun:test';
import { budgetMinutes, evaluateErrorBudget, type OutcomeBucket } from '@mc/server/releases/error-budget';

/**
 * Spec §9 against synthetic outcome histories (docs/ops/ERROR_BUDGET_POLICY.md). 28 days at
 * 99.9 % = 40.32 budget minutes; a period's bad minutes = its failed share × its length.
 */
const policy = { slo: 0.999, windowDays: 28, minSamples: 20 };
const now = new Date('2025-10-01T12:00:00Z');
const minute = 60_000;
const day = 86_400_000;

/** One bucket per minute in [from, to), `total` runs a minute of which `failed` failed. */
function span(from: Date, to: Date, total: number, failed: number): OutcomeBucket[] {
  const out: OutcomeBucket[] = [];
  for (let t = from.getTime(); t < to.getTime(); t += minute) out.push({ minute: new Date(t), total, failed });
  return out;
}
const ago = (ms: number) => new Date(now.getTime() - ms);
const utcDayStart = (daysBack: number) => new Date(Math.floor(now.getTime() / day) * day - daysBack * day);
const calm = { active: false, since: null };
const frozen = { active: true, since: ago(10 * day) };
const evaluate = (buckets: OutcomeBucket[], previous: { active: boolean; since: Date | null } = calm) => evaluateErrorBudget({ now, policy, buckets, previous });
const kinds = (e: ReturnType<typeof evaluate>) => e.alerts.map((a) => a.kind);

describe('error budget (spec §9)', () => {
  it('is 40.32 minutes for 99.9 % over 28 days', () => {
    expect(budgetMinutes(policy)).toBeCloseTo(40.32, 6);
  });

  it('leaves a budget untouched by a history without failures', () => {
    const e = evaluate(span(ago(28 * day), now, 10, 0));
    expect(e.remainingRatio).toBe(1);
    expect(e.burnLast24h).toBe(0);
    expect(e.alerts).toEqual([]);
    expect(e.freeze.active).toBe(false);
  });

  it('translates a failed share into bad minutes: 0.1 % of runs failing for 28 days spends the whole budget', () => {
    const e = evaluate(span(ago(28 * day), now, 1000, 1));
    expect(e.remainingRatio).toBeCloseTo(0, 6);
  });

  it('warns at 25 % daily burn (0.8 % of runs failing for a day burns 28.6 %)', () => {
    const e = evaluate(span(ago(day), now, 1000, 8));
    expect(e.burnLast24h).toBeCloseTo((0.008 * 1440) / 40.32, 6);
    expect(kinds(e)).toEqual(['budget_warn']);
    expect(e.alerts[0]!.period).toBe('2025-10-01');
  });

  it('pages at 50 % daily burn, and does not also warn', () => {
    const e = evaluate(span(ago(day), now, 1000, 15));
    expect(e.burnLast24h).toBeGreaterThan(0.5);
    expect(kinds(e)).toEqual(['budget_page']);
  });

  it('stays quiet just under 25 %', () => {
    const e = evaluate(span(ago(day), now, 1000, 7));
    expect(e.burnLast24h).toBeLessThan(0.25);
    expect(e.alerts).toEqual([]);
  });

  it('rolls canaries back when the last 15 minutes burn more than 10 %/h', () => {
    // 10 % failing for 15 minutes: 1.5 bad minutes in a quarter hour = 14.9 % of the budget per hour.
    const e = evaluate(span(ago(15 * minute), now, 10, 1));
    expect(e.burnRatePerHour).toBeCloseTo((0.1 * 15 * 4) / 40.32, 6);
    expect(e.autoRollback).toBe(true);
    expect(kinds(e)).toContain('budget_auto_rollback');
  });

  it('does not roll back at 5 % failing (7.4 %/h), nor on fewer runs than the minimum', () => {
    expect(evaluate(span(ago(15 * minute), now, 20, 1)).autoRollback).toBe(false);
    const few = evaluate([{ minute: ago(5 * minute), total: 3, failed: 3 }]);
    expect(few.burnRatePerHour).toBeGreaterThan(0.1);
    expect(few.autoRollback).toBe(false);
  });

  it('does not count a burst older than 15 minutes in the hourly rate', () => {
    const e = evaluate([...span(ago(40 * minute), ago(20 * minute), 10, 5), ...span(ago(15 * minute), now, 10, 0)]);
    expect(e.burnRatePerHour).toBe(0);
    expect(e.autoRollback).toBe(false);
  });

  it('enters a change freeze after two consecutive days over 50 %', () => {
    // Yesterday 2 % failing all day (71 %); today 4 % for the 12 hours so far (71 %).
    const history = [...span(utcDayStart(1), utcDayStart(0), 100, 2), ...span(utcDayStart(0), now, 100, 4)];
    const e = evaluate(history);
    expect(e.days.at(-2)!.burn).toBeGreaterThan(0.5);
    expect(e.days.at(-1)!.burn).toBeGreaterThan(0.5);
    expect(e.freeze).toEqual({ active: true, since: now });
    expect(kinds(e)).toContain('freeze_entered');
  });

  it('does not freeze on one hot day, nor on two hot days apart', () => {
    expect(evaluate(span(utcDayStart(1), utcDayStart(0), 100, 2)).freeze.active).toBe(false);
    const apart = [...span(utcDayStart(2), utcDayStart(1), 100, 2), ...span(utcDayStart(0), now, 100, 4)];
    expect(evaluate(apart).freeze.active).toBe(false);
  });

  it('keeps a freeze on while the exit criteria are not all met', () => {
    // Three calm days, but a day 10 days ago spent 71 % of the budget: 29 % left.
    const spent = [...span(utcDayStart(10), utcDayStart(9), 100, 2), ...span(utcDayStart(3), now, 100, 0)];
    const e1 = evaluate(spent, frozen);
    expect(e1.remainingRatio).toBeLessThan(0.6);
    expect(e1.freeze.active).toBe(true);
    // Budget fine, but one of the last three days burned 7 %.
    const warm = [...span(utcDayStart(2), utcDayStart(1), 100, 0.2), ...span(utcDayStart(3), utcDayStart(2), 100, 0), ...span(utcDayStart(1), now, 100, 0)];
    const e2 = evaluate(warm, frozen);
    expect(e2.days.at(-3)!.burn).toBeGreaterThan(0.05);
    expect(e2.freeze.active).toBe(true);
    expect(kinds(e2)).not.toContain('freeze_lifted');
  });

  it('lifts the freeze once the budget is over 60 % and three full days burned under 5 %', () => {
    // The bad days have left the 28-day window; the last three complete days were calm.
    const history = [...span(ago(31 * day), ago(29 * day), 100, 5), ...span(utcDayStart(4), now, 100, 0.05)];
    const e = evaluate(history, frozen);
    expect(e.remainingRatio).toBeGreaterThan(0.6);
    expect(e.days.filter((d) => d.complete).slice(-3).every((d) => d.burn < 0.05)).toBe(true);
    expect(e.freeze).toEqual({ active: false, since: null });
    expect(kinds(e)).toEqual(['freeze_lifted']);
  });

  it('needs three complete calm days: hot days yesterday keep it on though today is calm', () => {
    const history = [...span(utcDayStart(2), utcDayStart(0), 100, 2), ...span(utcDayStart(0), now, 100, 0)];
    const e = evaluate(history, frozen);
    expect(e.freeze).toEqual(frozen);
    expect(kinds(e).filter((k) => k.startsWith('freeze'))).toEqual([]);
  });
});
