/** The names a manifest reads as `${{ inputs.<name> }}` in its tasks' `with`, in first-use order. */
const inputExpression = /\$\{\{\s*inputs\.([A-Za-z_][A-Za-z0-9_-]*)[^}]*\}\}/g;

export function manifestInputNames(tasks: readonly { with?: unknown }[]): string[] {
  const found = new Set<string>();
  const walk = (v: unknown): void => {
    if (typeof v === 'string') {
      for (const m of v.matchAll(inputExpression)) if (m[1]) found.add(m[1]);
    } else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  for (const t of tasks) walk(t.with);
  return [...found];
}

/** A form value as the input's value: JSON when it parses as a number, boolean, array or object, else the text. */
export function inputValue(text: string): unknown {
  const trimmed = text.trim();
  if (/^(-?\d+(\.\d+)?|true|false|null|\[.*\]|\{.*\})$/s.test(trimmed)) {
    try {
      return JSON.parse(trimmed);
    } catch {
      return text;
    }
  }
  return text;
}
