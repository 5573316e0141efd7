/**
 * Receipts a worker cuts after a task finished its run, issued without holding the task's job.
 * A job used to wait for its run's receipt (signed, stored write-once with an fsync, recorded in
 * a transaction behind the audit chain's lock): under load that held a worker slot tens of
 * milliseconds more than the task needed, the slots filled, and ready tasks waited in the queue
 * for them. Nothing is at risk in between: the run is `receipt_pending` in Postgres before the
 * job returns, and should this process die the sweeper enqueues its receipt job.
 *
 * Bounded: with `limit` receipts in flight, a finishing job waits for its own, so a slow store
 * holds the slots again instead of growing this process's memory. `settled()` is what shutdown
 * waits for, once the workers stopped taking jobs.
 */
export class BackgroundReceipts {
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly limit: number) {}

  /** Starts `issue`; resolves at once, or once it settles when `limit` are in flight. `issue` must not reject. */
  async run(issue: () => Promise<void>): Promise<void> {
    const work = issue().finally(() => this.inFlight.delete(work));
    this.inFlight.add(work);
    if (this.inFlight.size > this.limit) await work;
  }

  get size(): number {
    return this.inFlight.size;
  }

  /** Resolves when every receipt started so far (and any started meanwhile) has settled. */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }
}
