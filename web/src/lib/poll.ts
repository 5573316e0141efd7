/**
 * Re-runs `load` until `done` says the data is final, sleeping between runs: from `minMs`,
 * growing by `factor` while nothing changes (and after errors), back to `minMs` on a change.
 * Paused while the tab is hidden. Returns a stop function for `$effect` cleanup.
 */
export function pollWithBackoff<T>(
  load: () => Promise<T>,
  opts: {
    onData: (value: T) => void;
    onError: (e: unknown) => void;
    done?: (value: T) => boolean;
    /** A cheap fingerprint: a changed one resets the interval. */
    fingerprint?: (value: T) => string;
    minMs?: number;
    maxMs?: number;
    factor?: number;
  },
): () => void {
  const minMs = opts.minMs ?? 1000;
  const maxMs = opts.maxMs ?? 15_000;
  const factor = opts.factor ?? 1.6;
  let delay = minMs;
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let last: string | undefined;

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(tick, delay);
  };
  const tick = async () => {
    if (stopped) return;
    if (typeof document !== 'undefined' && document.visibilityState === 'hidden') {
      schedule();
      return;
    }
    try {
      const value = await load();
      if (stopped) return;
      opts.onData(value);
      if (opts.done?.(value)) return;
      const fp = opts.fingerprint?.(value);
      delay = fp !== undefined && fp !== last ? minMs : Math.min(maxMs, delay * factor);
      last = fp;
    } catch (e) {
      if (stopped) return;
      opts.onError(e);
      delay = Math.min(maxMs, delay * factor * 2);
    }
    schedule();
  };
  void tick();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
