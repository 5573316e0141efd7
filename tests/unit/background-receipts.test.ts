import { describe, expect, it } from 'bun:test';
import { BackgroundReceipts } from '@mc/worker/background-receipts';

// worker/background-receipts.ts: a finished run's receipt is issued without holding the task's
// job, up to a bound; shutdown waits for every one.
function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('receipts issued in the background (worker/background-receipts.ts)', () => {
  it('returns at once while under its limit, and waits for its own receipt past it', async () => {
    const receipts = new BackgroundReceipts(2);
    const gates = [deferred(), deferred(), deferred()];
    let third = false;
    await receipts.run(() => gates[0]!.promise);
    await receipts.run(() => gates[1]!.promise);
    expect(receipts.size).toBe(2);
    const waiting = receipts.run(() => gates[2]!.promise).then(() => (third = true));
    await Bun.sleep(5);
    expect(third).toBe(false); // a third in flight: this job holds its slot until its receipt settles
    gates[2]!.resolve();
    await waiting;
    expect(third).toBe(true);
    expect(receipts.size).toBe(2);
    gates[0]!.resolve();
    gates[1]!.resolve();
    await receipts.settled();
    expect(receipts.size).toBe(0);
  });

  it('settles only when every receipt has, including those started while it waited', async () => {
    const receipts = new BackgroundReceipts(10);
    const first = deferred();
    const late = deferred();
    let settled = false;
    await receipts.run(() => first.promise);
    const done = receipts.settled().then(() => (settled = true));
    await receipts.run(() => late.promise);
    first.resolve();
    await Bun.sleep(5);
    expect(settled).toBe(false);
    late.resolve();
    await done;
    expect(settled).toBe(true);
  });
});
