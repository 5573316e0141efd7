/**
 * The error-budget policy of spec §9, as a pure function of outcome history (docs/ops/ERROR_BUDGET_POLICY.md).
 *
 * Budget: `windowDays × 1440 × (1 − slo)` minutes (28 d at 99.9 % = 40.32 min; the spec's "43m"
 * is the 30-day figure). Burn: a period's failed-execution share (failed ÷ succeeded+failed)
 * times the period's length is the period's *bad minutes*; burn = bad minutes ÷ budget minutes.
 * So a day at 0.7 % failures burns 25 % of the budget, one at 1.4 % burns 50 %, and 10 %/h
 * sustained needs 6.7 % of runs failing.
 */

export interface OutcomeBucket {
  /** Start of the minute the executions finished in. */
  minute: Date;
  /** Executions that finished `succeeded` or `failed`. */
  total: number;
  failed: number;
}

export interface BudgetPolicy {
  slo: number;
  windowDays: number;
  /** Fewest samples in the 15-minute window before a high burn rate rolls canaries back. */
  minSamples: number;
}

export interface FreezeState {
  active: boolean;
  since: Date | null;
}

export type BudgetAlertKind = 'budget_warn' | 'budget_page' | 'budget_auto_rollback' | 'freeze_entered' | 'freeze_lifted';

export interface BudgetAlert {
  kind: BudgetAlertKind;
  /** The period the alert is raised once for (a UTC day, or a 15-minute slot). */
  period: string;
  data: Record<string, unknown>;
}

export interface DayBurn {
  day: string;
  total: number;
  failed: number;
  /** Share of the budget burned that day (today: so far). */
  burn: number;
  complete: boolean;
}

export interface BudgetEvaluation {
  at: string;
  budgetMinutes: number;
  remainingRatio: number;
  burnRatePerHour: number;
  burnLast24h: number;
  last15m: { total: number; failed: number };
  days: DayBurn[];
  freeze: FreezeState;
  autoRollback: boolean;
  alerts: BudgetAlert[];
}

export const budgetThresholds = {
  warnDaily: 0.25,
  pageDaily: 0.5,
  rollbackPerHour: 0.1,
  rollbackWindowMinutes: 15,
  freezeDaily: 0.5,
  freezeConsecutiveDays: 2,
  exitRemaining: 0.6,
  exitDaily: 0.05,
  exitDays: 3,
} as const;

const minuteMs = 60_000;
const dayMs = 86_400_000;

export function budgetMinutes(policy: Pick<BudgetPolicy, 'slo' | 'windowDays'>): number {
  return policy.windowDays * 1440 * (1 - policy.slo);
}

const utcDay = (t: number) => new Date(Math.floor(t / dayMs) * dayMs).toISOString().slice(0, 10);

function sum(buckets: readonly OutcomeBucket[], from: number, to: number): { total: number; failed: number } {
  let total = 0;
  let failed = 0;
  for (const b of buckets) {
    const t = b.minute.getTime();
    if (t >= from && t < to) {
      total += b.total;
      failed += b.failed;
    }
  }
  return { total, failed };
}

/** Bad minutes of a period: its failed share times its length. */
function badMinutes(counts: { total: number; failed: number }, minutes: number): number {
  return counts.total === 0 ? 0 : (counts.failed / counts.total) * minutes;
}

export function evaluateErrorBudget(input: { now: Date; policy: BudgetPolicy; buckets: readonly OutcomeBucket[]; previous: FreezeState }): BudgetEvaluation {
  const { now, policy, buckets } = input;
  const t = budgetThresholds;
  const budget = budgetMinutes(policy);
  const end = now.getTime();
  const windowStart = end - policy.windowDays * dayMs;

  // UTC-day slices of the window, oldest first; the first and last are partial.
  const days: DayBurn[] = [];
  for (let dayStart = Math.floor(windowStart / dayMs) * dayMs; dayStart < end; dayStart += dayMs) {
    const from = Math.max(dayStart, windowStart);
    const to = Math.min(dayStart + dayMs, end);
    const counts = sum(buckets, from, to);
    days.push({ day: utcDay(dayStart), ...counts, burn: badMinutes(counts, (to - from) / minuteMs) / budget, complete: dayStart + dayMs <= end });
  }
  const consumed = days.reduce((acc, d) => acc + d.burn, 0);
  const remainingRatio = 1 - consumed;

  const last24h = sum(buckets, end - dayMs, end);
  const burnLast24h = badMinutes(last24h, 1440) / budget;
  const last15m = sum(buckets, end - t.rollbackWindowMinutes * minuteMs, end);
  const burnRatePerHour = ((badMinutes(last15m, t.rollbackWindowMinutes) / budget) * 60) / t.rollbackWindowMinutes;
  const autoRollback = burnRatePerHour > t.rollbackPerHour && last15m.total >= policy.minSamples;

  const today = utcDay(end);
  const alerts: BudgetAlert[] = [];
  const figures = { burnLast24h, burnRatePerHour, remainingRatio, budgetMinutes: budget };
  if (burnLast24h >= t.pageDaily) alerts.push({ kind: 'budget_page', period: today, data: { ...figures, threshold: t.pageDaily } });
  else if (burnLast24h >= t.warnDaily) alerts.push({ kind: 'budget_warn', period: today, data: { ...figures, threshold: t.warnDaily } });
  if (autoRollback) {
    const slot = new Date(Math.floor(end / (t.rollbackWindowMinutes * minuteMs)) * t.rollbackWindowMinutes * minuteMs).toISOString();
    alerts.push({ kind: 'budget_auto_rollback', period: slot, data: { ...figures, last15m, threshold: t.rollbackPerHour } });
  }

  // Freeze: two consecutive days over 50 % (today counts once it is over: its burn only grows).
  // Lifted when the budget is back over 60 % and each of the last three complete days burned < 5 %.
  let freeze: FreezeState = input.previous;
  const recent = days.slice(-(t.freezeConsecutiveDays + 1));
  const hotRun = recent.some((d, i) => i + t.freezeConsecutiveDays <= recent.length && recent.slice(i, i + t.freezeConsecutiveDays).every((x) => x.burn > t.freezeDaily));
  const completeDays = days.filter((d) => d.complete).slice(-t.exitDays);
  const calm = completeDays.length === t.exitDays && completeDays.every((d) => d.burn < t.exitDaily) && remainingRatio > t.exitRemaining;
  if (!freeze.active && hotRun) {
    freeze = { active: true, since: now };
    alerts.push({ kind: 'freeze_entered', period: today, data: { ...figures, days: recent.map((d) => ({ day: d.day, burn: d.burn })) } });
  } else if (freeze.active && calm) {
    freeze = { active: false, since: null };
    alerts.push({ kind: 'freeze_lifted', period: today, data: { ...figures, days: completeDays.map((d) => ({ day: d.day, burn: d.burn })) } });
  }

  return { at: now.toISOString(), budgetMinutes: budget, remainingRatio, burnRatePerHour, burnLast24h, last15m, days, freeze, autoRollback, alerts };
}
