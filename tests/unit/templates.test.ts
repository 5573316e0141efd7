import { describe, expect, it } from 'bun:test';
import fc from 'fast-check';
import { expandTemplates, referencedTasks, TemplateError } from '@mc/shared/templates';

const scope = { inputs: { name: 'Ada', n: 3, nested: { deep: [1, 2] } }, tasks: { a: { output: { id: 'x-1', ok: true } } } };

describe('templates', () => {
  it('keeps the type of a whole-string expression and interpolates inside text', () => {
    expect(expandTemplates({ n: '${{ inputs.n }}', s: 'n=${{ inputs.n }}', d: '${{inputs.nested}}' }, scope)).toEqual({ n: 3, s: 'n=3', d: { deep: [1, 2] } });
    expect(expandTemplates(['${{ tasks.a.output.id }}', 'id ${{ tasks.a.output.id }}'], scope)).toEqual(['x-1', 'id x-1']);
  });

  it('refuses unknown roots, missing values and prototype walks', () => {
    for (const expr of ['${{ env.HOME }}', '${{ inputs.missing }}', '${{ inputs.__proto__ }}', '${{ inputs.constructor }}', '${{ tasks.zz.output }}', '${{ inputs.name; rm }}']) {
      expect(() => expandTemplates(expr, scope)).toThrow(TemplateError);
    }
  });

  it('lists the tasks a `with` refers to', () => {
    expect(referencedTasks({ a: '${{ tasks.a.output.id }}', b: ['x ${{ tasks.b.output }}'], c: '${{ inputs.n }}' }).sort()).toEqual(['a', 'b']);
  });

  it('leaves values without expressions unchanged', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const text = JSON.stringify(v);
        fc.pre(!text.includes('${{'));
        expect(expandTemplates(v, scope)).toEqual(v);
      }),
    );
  });
});
