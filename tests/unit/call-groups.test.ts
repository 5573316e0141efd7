import { describe, expect, it } from 'bun:test';
import { CallGroups } from '@mc/server/groups/call-groups';

// server/groups/call-groups.ts: the grouping behind group commit, log line groups and enqueue groups.
function recorder(maxOpen: number, maxGroup: number, weight?: (n: number) => number) {
  const groups: number[][] = [];
  const releases: (() => void)[] = [];
  const calls = new CallGroups<number>(
    (group) =>
      new Promise<void>((resolve) => {
        groups.push(group);
        releases.push(resolve);
      }),
    { maxOpen, maxGroup, ...(weight ? { weight } : {}) },
  );
  const releaseNext = async () => {
    releases.shift()!();
    await Bun.sleep(0);
  };
  return { calls, groups, releaseNext };
}

describe('CallGroups', () => {
  it('sends an item at once while fewer than maxOpen groups are under way, and groups what comes meanwhile', async () => {
    const { calls, groups, releaseNext } = recorder(1, 10);
    calls.add(1);
    calls.add(2);
    calls.add(3);
    expect(groups).toEqual([[1]]);
    await releaseNext();
    expect(groups).toEqual([[1], [2, 3]]);
  });

  it('keeps up to maxOpen groups under way', async () => {
    const { calls, groups } = recorder(2, 10);
    for (const n of [1, 2, 3, 4]) calls.add(n);
    expect(groups).toEqual([[1], [2]]);
  });

  it('caps a group by weight, but always sends the first item, however heavy', async () => {
    const { calls, groups, releaseNext } = recorder(1, 5, (n) => n);
    calls.add(9);
    for (const n of [2, 2, 2, 1]) calls.add(n);
    expect(groups).toEqual([[9]]);
    await releaseNext();
    expect(groups).toEqual([[9], [2, 2]]);
    await releaseNext();
    expect(groups).toEqual([[9], [2, 2], [2, 1]]);
  });
});
