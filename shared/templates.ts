/**
 * `${{ inputs.name }}`, `${{ tasks.<id>.output.<path> }}` and `${{ secrets.NAME }}` in a task's
 * `with`, expanded in the worker when the task runs. A string that is exactly one expression takes
 * the value's own type; an expression inside a longer string is interpolated as text.
 *
 * Secrets come from the scope's separate `secrets` map, which only the worker fills (from its
 * secret provider) at run time; manifests hold the reference, never the value. Expansion is one
 * pass: a value substituted in (an input, an upstream output) is never scanned again, so an input
 * that contains `${{ secrets.X }}` stays that literal text and cannot pull a secret out.
 */
const wholeExpression = /^\$\{\{\s*([^}]*?)\s*\}\}$/;
const anyExpression = /\$\{\{\s*([^}]*?)\s*\}\}/g;
const pathPattern = /^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$/;
/** `MC_SECRET_<NAME>` and one file per name must be safe names: no dots, slashes or lower case. */
export const secretNamePattern = /^[A-Z][A-Z0-9_]*$/;

export interface TemplateScope {
  inputs: Record<string, unknown>;
  tasks: Record<string, { output: unknown }>;
  /** Resolved secret values by name; absent means none are available (every reference fails). */
  secrets?: Record<string, string>;
}

export class TemplateError extends Error {}

export function expandTemplates(value: unknown, scope: TemplateScope): unknown {
  if (typeof value === 'string') return expandString(value, scope);
  if (Array.isArray(value)) return value.map((v) => expandTemplates(v, scope));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    // defineProperty: a key named `__proto__` stays an own key instead of replacing the prototype.
    for (const [k, v] of Object.entries(value)) Object.defineProperty(out, k, { value: expandTemplates(v, scope), enumerable: true, writable: true, configurable: true });
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
  if (!pathPattern.test(expr)) {
    throw new TemplateError(`"${expr}" is not an expression MC understands (use inputs.<name>, tasks.<id>.output.<path> or secrets.<NAME>)`);
  }
  const [root, ...rest] = expr.split('.');
  if (root === 'secrets') return lookupSecret(expr, rest, scope);
  if (root !== 'inputs' && root !== 'tasks') throw new TemplateError(`unknown root "${root}" in "${expr}" (use inputs, tasks or secrets)`);
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

function lookupSecret(expr: string, rest: string[], scope: TemplateScope): string {
  const name = rest[0];
  if (rest.length !== 1 || !name || !secretNamePattern.test(name)) {
    throw new TemplateError(`"${expr}" is not a secret reference (use secrets.NAME, NAME in A-Z, 0-9 and _, starting with a letter)`);
  }
  const secrets = scope.secrets ?? {};
  const value = Object.hasOwn(secrets, name) ? secrets[name] : undefined;
  if (typeof value !== 'string') throw new TemplateError(`secret ${name} is not set`);
  return value;
}

/** The secret names a `with` refers to (well-formed references only), so the worker fetches just those. */
export function referencedSecrets(value: unknown): string[] {
  const found = new Set<string>();
  const walk = (v: unknown): void => {
    if (typeof v === 'string') {
      for (const m of v.matchAll(anyExpression)) {
        const parts = m[1]!.split('.');
        if (parts.length === 2 && parts[0] === 'secrets' && secretNamePattern.test(parts[1]!)) found.add(parts[1]!);
      }
    } else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(value);
  return [...found];
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

/** Whether a `with` refers to the execution's inputs at all: if not, the worker need not decrypt them. */
export function referencesInputs(value: unknown): boolean {
  if (typeof value === 'string') {
    for (const m of value.matchAll(anyExpression)) if (m[1]!.split('.')[0] === 'inputs') return true;
    return false;
  }
  if (Array.isArray(value)) return value.some(referencesInputs);
  if (value && typeof value === 'object') return Object.values(value).some(referencesInputs);
  return false;
}
