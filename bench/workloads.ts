import type { ManifestInput } from '@mc/shared/manifest';

/** The workflows the bench runs on MC; the peers model the same shapes (see bench/peers/). */

const echo = 'pkg:demo/echo@1.0.0';

/** One echo task. */
export const oneTask: ManifestInput = { name: 'bench-one', version: '1.0.0', tasks: [{ id: 'a', uses: echo, with: { n: 1 } }] };

/** a → {b, c, d} → e, all echo. */
export const diamond: ManifestInput = {
  name: 'bench-diamond',
  version: '1.0.0',
  tasks: [
    { id: 'a', uses: echo, with: { n: 1 } },
    { id: 'b', uses: echo, with: { n: 2 }, needs: ['a'] },
    { id: 'c', uses: echo, with: { n: 3 }, needs: ['a'] },
    { id: 'd', uses: echo, with: { n: 4 }, needs: ['a'] },
    { id: 'e', uses: echo, with: { n: 5 }, needs: ['b', 'c', 'd'] },
  ],
};

/** `count` tasks in a line, each needing the one before. */
export function chain(name: string, count: number, task: { uses: string; with: Record<string, unknown> }, timeoutMs = 60_000): ManifestInput {
  return {
    name,
    version: '1.0.0',
    tasks: Array.from({ length: count }, (_, i) => ({
      id: `t${i + 1}`,
      uses: task.uses,
      with: task.with,
      timeoutMs,
      ...(i > 0 ? { needs: [`t${i}`] } : {}),
    })),
  };
}

/** 1 root → `width` parallel echo tasks → 1 join. */
export function fanOut(width: number): ManifestInput {
  const mids = Array.from({ length: width }, (_, i) => `m${i + 1}`);
  return {
    name: `bench-fanout-${width}`,
    version: '1.0.0',
    tasks: [
      { id: 'root', uses: echo, with: {} },
      ...mids.map((id) => ({ id, uses: echo, with: {}, needs: ['root'] })),
      { id: 'join', uses: echo, with: {}, needs: mids },
    ],
  };
}
