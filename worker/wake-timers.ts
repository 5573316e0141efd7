/**
 * Punctual wake-ups for suspended steps.
 *
 * A suspended step's job waits in BullMQ's delayed set, and a worker blocked on Redis learns it
 * is due only when its blocking command times out — which Redis serves at its clock tick (`hz`,
 * 10 by default): up to 100 ms late, ~40 ms on average for a 10 ms sleep on this machine kind.
 * The worker that suspends a step therefore also sets a local timer that promotes the job when it
 * is due. The delayed set stays the truth — if this process dies, any worker picks the job up
 * when Redis gets round to it — the timer only makes the wake-up punctual.
 *
 * A promote that finds the job no longer delayed (woken already, by a signal or by Redis) fails;
 * that is the expected race and is ignored. One that comes a hair early makes the task suspend
 * again for what is left, so the wake can never be earlier than its step asked for.
 */
export class WakeTimers {
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();

  /** `horizonMs`: wakes further out are left to Redis alone (100 ms on a long wait is noise, and a timer per long wait is memory). */
  constructor(private readonly horizonMs = 60_000) {}

  schedule(dueAt: number, promote: () => Promise<unknown>): void {
    const delay = dueAt - Date.now();
    if (delay > this.horizonMs) return;
    const timer = setTimeout(
      () => {
        this.timers.delete(timer);
        promote().catch(() => undefined);
      },
      // setTimeout rounds to whole milliseconds: one more keeps it from landing before `dueAt`.
      Math.max(0, delay) + 1,
    );
    // A pending wake never holds the process open: the delayed job outlives it.
    timer.unref?.();
    this.timers.add(timer);
  }

  get pending(): number {
    return this.timers.size;
  }

  /** On shutdown: the delayed jobs stay in Redis for whichever worker runs next. */
  clear(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}
