import { describe, expect, it } from 'bun:test';
import fc from 'fast-check';
import { findCycle, manifestSchema, stagesOf } from '@mc/shared/manifest';

const limits = { maxBytes: 262_144, maxTasks: 2_000, defaultRegion: 'us' };
const schema = manifestSchema(limits);

/** A random DAG: task i may only need tasks before it, so it is acyclic by construction. */
const dagArb = fc.integer({ min: 1, max: 40 }).chain((n) =>
  fc.tuple(...Array.from({ length: n }, (_, i) => fc.subarray(Array.from({ length: i }, (_, j) => `t${j}`), { maxLength: Math.min(4, i) }))).map((needsLists) =>
    needsLists.map((needs, i) => ({ id: `t${i}`, uses: 'pkg:demo/echo@1.0.0', needs })),
  ),
);

describe('manifest validation', () => {
  it('accepts every acyclic DAG of known packages and fills defaults', () => {
    fc.assert(
      fc.property(dagArb, (tasks) => {
        const parsed = schema.safeParse({ name: 'dag', version: '1.0.0', tasks });
        expect(parsed.success).toBe(true);
        if (parsed.success) {
          expect(parsed.data.region).toBe('us');
          expect(parsed.data.tasks.every((t) => t.retries === 0 && t.runnerClass === 'default')).toBe(true);
        }
      }),
    );
  });

  it('finds a cycle whenever one back edge closes a chain', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 30 }), fc.nat(), (n, pick) => {
        const tasks = Array.from({ length: n }, (_, i) => ({ id: `t${i}`, needs: i === 0 ? [] : [`t${i - 1}`] }));
        const from = pick % n;
        tasks[0]!.needs = [`t${Math.max(from, 1)}`];
        const cycle = findCycle(tasks);
        expect(cycle).not.toBeNull();
        expect(cycle![0]).toBe(cycle![cycle!.length - 1]);
      }),
    );
  });

  it('never throws, whatever the input', () => {
    fc.assert(
      fc.property(fc.anything(), (raw) => {
        expect(() => schema.safeParse(raw)).not.toThrow();
      }),
      { numRuns: 500 },
    );
  });

  it('reports every issue with a field path', () => {
    fc.assert(
      fc.property(fc.record({ name: fc.string(), version: fc.string(), tasks: fc.array(fc.record({ id: fc.string(), uses: fc.string(), needs: fc.array(fc.string()) })) }), (raw) => {
        const parsed = schema.safeParse(raw);
        if (!parsed.success) for (const issue of parsed.error.issues) expect(Array.isArray(issue.path)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('handles a 2,000-task chain without recursion limits', () => {
    const tasks = Array.from({ length: 2000 }, (_, i) => ({ id: `t${i}`, uses: 'pkg:demo/echo@1.0.0', needs: i === 0 ? [] : [`t${i - 1}`] }));
    const parsed = schema.safeParse({ name: 'long', version: '1.0.0', tasks });
    expect(parsed.success).toBe(true);
    expect(stagesOf(tasks)).toHaveLength(2000);
  });

  it('refuses more tasks than the limit', () => {
    const small = manifestSchema({ ...limits, maxTasks: 3 });
    const tasks = Array.from({ length: 4 }, (_, i) => ({ id: `t${i}`, uses: 'pkg:demo/echo@1.0.0' }));
    const parsed = small.safeParse({ name: 'many', version: '1.0.0', tasks });
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues[0]!.path).toEqual(['tasks']);
  });

  it('defers package checks of `with` that holds templates to run time', () => {
    const parsed = schema.safeParse({ name: 'tpl', version: '1.0.0', tasks: [{ id: 's', uses: 'pkg:mc/sleep@1.0.0', with: { ms: '${{ inputs.ms }}' } }] });
    expect(parsed.success).toBe(true);
  });
});

describe('stagesOf', () => {
  it('puts every task after all of its needs', () => {
    fc.assert(
      fc.property(dagArb, (tasks) => {
        const stages = stagesOf(tasks);
        const stageOf = new Map(stages.flatMap((ids, s) => ids.map((id) => [id, s] as const)));
        for (const t of tasks) for (const n of t.needs) expect(stageOf.get(n)!).toBeLessThan(stageOf.get(t.id)!);
        expect(stages.flat().sort()).toEqual(tasks.map((t) => t.id).sort());
      }),
    );
  });
});
