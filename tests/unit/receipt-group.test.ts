import { describe, expect, it } from 'bun:test';
import { ReceiptGroup } from '@mc/server/receipts/receipt-group';
import type { IssueOutcome, ReceiptRequest } from '@mc/server/receipts/receipt-issuer';

/** An issuer that records each group it is handed and answers when the test lets it. */
function recordingIssuer(answer: (r: ReceiptRequest) => PromiseSettledResult<IssueOutcome> = () => ({ status: 'fulfilled', value: 'issued' })) {
  const groups: string[][] = [];
  const gates: (() => void)[] = [];
  const issueMany = async (requests: readonly ReceiptRequest[]) => {
    groups.push(requests.map((r) => r.executionId));
    await new Promise<void>((open) => gates.push(open));
    return requests.map(answer);
  };
  const openNext = async () => {
    while (gates.length === 0) await Bun.sleep(1);
    gates.shift()!();
  };
  return { groups, issueMany, openNext };
}

describe('ReceiptGroup', () => {
  it('sends a request alone when no group is out, and groups those that come while one is', async () => {
    const issuer = recordingIssuer();
    const group = new ReceiptGroup(issuer.issueMany);
    const first = group.issue({ executionId: 'a' });
    const later = ['b', 'c', 'd'].map((executionId) => group.issue({ executionId }));
    await issuer.openNext();
    expect(await first).toBe('issued');
    await issuer.openNext();
    expect(await Promise.all(later)).toEqual(['issued', 'issued', 'issued']);
    expect(issuer.groups).toEqual([['a'], ['b', 'c', 'd']]);
    // Idle again: the next request goes out at once, alone.
    const next = group.issue({ executionId: 'e' });
    await issuer.openNext();
    expect(await next).toBe('issued');
    expect(issuer.groups.at(-1)).toEqual(['e']);
  });

  it('caps a group at maxGroup and issues the rest in the groups after it', async () => {
    const issuer = recordingIssuer();
    const group = new ReceiptGroup(issuer.issueMany, 2);
    const all = ['a', 'b', 'c', 'd', 'e'].map((executionId) => group.issue({ executionId }));
    for (let i = 0; i < 3; i++) await issuer.openNext();
    expect(await Promise.all(all)).toHaveLength(5);
    expect(issuer.groups).toEqual([['a'], ['b', 'c'], ['d', 'e']]);
  });

  it("settles each request with its own result: one's failure is not another's", async () => {
    const issuer = recordingIssuer((r) => (r.executionId === 'bad' ? { status: 'rejected', reason: new Error('put failed') } : { status: 'fulfilled', value: 'exists' }));
    const group = new ReceiptGroup(issuer.issueMany);
    const results = Promise.allSettled(['ok', 'bad', 'ok2'].map((executionId) => group.issue({ executionId })));
    await issuer.openNext();
    await issuer.openNext();
    expect((await results).map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual(['exists', 'put failed', 'exists']);
  });

  it('rejects every request of a group whose issue throws, and keeps issuing later groups', async () => {
    let calls = 0;
    const group = new ReceiptGroup(async (requests) => {
      calls++;
      if (calls === 1) throw new Error('database gone');
      return requests.map((): PromiseSettledResult<IssueOutcome> => ({ status: 'fulfilled', value: 'issued' }));
    });
    await expect(group.issue({ executionId: 'a' })).rejects.toThrow('database gone');
    expect(await group.issue({ executionId: 'b' })).toBe('issued');
  });
});
