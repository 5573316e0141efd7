/**
 * Postgres `jsonb` cannot hold the NUL character (U+0000), so a value carrying one is refused at
 * the door with a field path instead of failing deep in the database.
 */
export function findNulPath(value: unknown, path: string[] = []): string | null {
  const stack: [unknown, string[]][] = [[value, path]];
  while (stack.length > 0) {
    const [v, p] = stack.pop()!;
    if (typeof v === 'string') {
      if (v.includes('\u0000')) return p.join('.');
    } else if (Array.isArray(v)) {
      v.forEach((item, i) => stack.push([item, [...p, String(i)]]));
    } else if (v && typeof v === 'object') {
      for (const [k, item] of Object.entries(v)) {
        if (k.includes('\u0000')) return [...p, k.replace(/\u0000/g, '\\u0000')].join('.');
        stack.push([item, [...p, k]]);
      }
    }
  }
  return null;
}
