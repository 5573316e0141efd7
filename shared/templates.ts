/**
 * `${{ inputs.name }}` and `${{ tasks.<id>.output.<path> }}` in a task's `with`, expanded in the
 * worker when the task runs. A string that is exactly one expression takes the value's own type;
 * an expression inside a longer string is interpolated as text.
 */
const wholeExpression = /^\$\{\{\s*([^}]*?)\s*\}\}$/;
const anyExpression = /\$\{\{\s*([^}]*?)\s*\}\}/g;
const pathPattern = /^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$/;

export interface TemplateScope {
  inputs: Record<string, unknown>;
  tasks: Record<string, { output: unknown }>;
}

export class TemplateError extends Error {}

export function expandTemplates(value: unknown, scope: TemplateScope): unknown {
  if (typeof value === 'string') return expandString(value, scope);
  if (Array.isArray(value)) return value.map((v) => expandTemplates(v, scope));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = expandTemplates(v, scope);
    return out;
  }
  return value;
}

function expandString(s: string, scope: TemplateScope): unknown {
  const whole = wholeExpression.exec(s);
  if (whole) return lookup(whole[1]!, scope);
  return s.replace(anyExpression, (_, expr: string) => {
    const v = lookup(expr, scope);
    return typeof v === 'string' ? v : JSON.stringify(v);
  });
}

function lookup(expr: string, scope: TemplateScope): unknown {
  if (!pathPattern.test(expr)) throw new TemplateError(`"${expr}" is not an expression MC understands (use inputs.<name> or tasks.<id>.output.<path>)`);
  const [root, ...rest] = expr.split('.');
  if (root !== 'inputs' && root !== 'tasks') throw new TemplateError(`unknown root "${root}" in "${expr}" (use inputs or tasks)`);
  let cur: unknown = scope[root];
  for (const key of rest) {
    // Own properties only: `__proto__` or `constructor` must never reach into prototypes.
    if (cur === null || typeof cur !== 'object' || !Object.hasOwn(cur, key)) {
      throw new TemplateError(`"${expr}" has no value${root === 'tasks' ? ' (is that task listed in needs?)' : ''}`);
    }
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

export function referencedTasks(value: unknown): string[] {
  const found = new Set<string>();
  const walk = (v: unknown): void => {
    if (typeof v === 'string') for (const m of v.matchAll(anyExpression)) {
      const parts = m[1]!.split('.');
      if (parts[0] === 'tasks' && parts[1]) found.add(parts[1]);
    }
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(value);
  return [...found];
}
