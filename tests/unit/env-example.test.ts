import { describe, expect, it } from 'bun:test';
import { readFileSync } from 'node:fs';
import { configSchema } from '@mc/shared/config';

describe('dev/.env.example', () => {
  it('documents every variable the config reads', () => {
    const text = readFileSync(new URL('../../dev/.env.example', import.meta.url), 'utf8');
    const documented = new Set([...text.matchAll(/^#?\s*([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]));
    const missing = Object.keys(configSchema.shape).filter((k) => !documented.has(k));
    expect(missing).toEqual([]);
  });
});
