import { describe, expect, it } from 'bun:test';
import { ReadGroup } from '@mc/server/db/read-group';

// server/db/read-group.ts: keyed reads grouped as commits are (API tokens and active releases on every start).
function recorder() {
  const reads: string[][] = [];
  const pending: { keys: string[]; answer(values: Map<string, string>): void; fail(e: Error): void }[] = [];
  const group = new ReadGroup<string, string>(
    (keys) =>
      new Promise((resolve, reject) => {
        reads.push(keys);
        pending.push({ keys, answer: resolve, fail: reject });
      }),
  );
  // The store as it is when the read is answered: each read sees the state of its own moment.
  const answerNext = async (state: Record<string, string>) => {
    const read = pending.shift()!;
    read.answer(new Map(read.keys.flatMap((k) => (k in state ? [[k, state[k]!] as [string, string]] : []))));
    await Bun.sleep(0);
  };
  return { group, reads, pending, answerNext };
}

describe('ReadGroup', () => {
  it('reads at once when idle, and sends the keys asked for meanwhile together in the next read, once each', async () => {
    const { group, reads, answerNext } = recorder();
    const a = group.read('a');
    const b = group.read('b');
    const c = group.read('c');
    const b2 = group.read('b');
    expect(reads).toEqual([['a']]);
    await answerNext({ a: '1', b: '2', c: '3' });
    expect(reads).toEqual([['a'], ['b', 'c']]);
    await answerNext({ a: '1', b: '2', c: '3' });
    expect(await Promise.all([a, b, c, b2])).toEqual(['1', '2', '3', '2']);
  });

  it('never answers a caller from a read that went out before it asked (a revocation committed before the request is seen)', async () => {
    const { group, answerNext } = recorder();
    const early = group.read('token');
    // Asked while the first read is out, after the token changed: it must get a read of its own.
    const late = group.read('token');
    await answerNext({ token: 'active' });
    await answerNext({ token: 'revoked' });
    expect(await early).toBe('active');
    expect(await late).toBe('revoked');
  });

  it('answers undefined for a key with no row', async () => {
    const { group, answerNext } = recorder();
    const missing = group.read('nope');
    await answerNext({});
    expect(await missing).toBeUndefined();
  });

  it('rejects every caller of a failed read, and reads again for the next ones', async () => {
    const { group, pending, answerNext } = recorder();
    const outcome = (p: Promise<unknown>) => p.then(String, (e: Error) => `error: ${e.message}`);
    const first = outcome(group.read('a'));
    const second = outcome(group.read('b'));
    const third = outcome(group.read('c'));
    pending.shift()!.fail(new Error('connection lost'));
    await Bun.sleep(0);
    pending.shift()!.fail(new Error('still down'));
    await Bun.sleep(0);
    expect(await Promise.all([first, second, third])).toEqual(['error: connection lost', 'error: still down', 'error: still down']);
    const fourth = group.read('a');
    await answerNext({ a: 'back' });
    expect(await fourth).toBe('back');
  });
});
