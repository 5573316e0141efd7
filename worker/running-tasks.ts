/**
 * The tasks this worker process is running, by execution, so a cancel or a rejection can reach
 * them: their abort signals fire at once and, after the grace period, a task that has not
 * stopped is abandoned (its promise rejects, the slot is freed, the step is recorded cancelled).
 */
export class ExecutionStoppedError extends Error {
  constructor(
    readonly executionId: string,
    readonly status: string,
  ) {
    super(`execution ${executionId} was ${status}`);
  }
}

interface Entry {
  controller: AbortController;
  abandon: (e: Error) => void;
}

export class RunningTasks {
  private readonly byExecution = new Map<string, Set<Entry>>();
  private readonly stopped = new Map<string, string>();

  constructor(private readonly graceMs: number) {}

  /**
   * Registers a task run. `abandoned` rejects only if the execution is stopped and the task has
   * not settled within the grace period; call `release` when it settles.
   */
  register(executionId: string, controller: AbortController): { abandoned: Promise<never>; release(): void } {
    let entry!: Entry;
    const abandoned = new Promise<never>((_, reject) => {
      entry = { controller, abandon: reject };
    });
    // Never an unhandled rejection when the run already settled.
    abandoned.catch(() => undefined);
    const set = this.byExecution.get(executionId) ?? new Set<Entry>();
    set.add(entry);
    this.byExecution.set(executionId, set);
    const status = this.stopped.get(executionId);
    if (status) this.stopEntry(executionId, entry, status);
    return {
      abandoned,
      release: () => {
        set.delete(entry);
        if (set.size === 0) {
          this.byExecution.delete(executionId);
          this.stopped.delete(executionId);
        }
      },
    };
  }

  /** Whether the execution was stopped while this process ran a task of it. */
  isStopped(executionId: string): boolean {
    return this.stopped.has(executionId);
  }

  /** Aborts every task of the execution; those still running after the grace period are abandoned. */
  stop(executionId: string, status: string): number {
    const set = this.byExecution.get(executionId);
    if (!set || set.size === 0) return 0;
    if (this.stopped.has(executionId)) return 0;
    this.stopped.set(executionId, status);
    for (const entry of set) this.stopEntry(executionId, entry, status);
    return set.size;
  }

  private stopEntry(executionId: string, entry: Entry, status: string): void {
    const reason = new ExecutionStoppedError(executionId, status);
    entry.controller.abort(reason);
    const timer = setTimeout(() => entry.abandon(reason), this.graceMs);
    timer.unref?.();
  }

  executionIds(): string[] {
    return [...this.byExecution.keys()];
  }
}
