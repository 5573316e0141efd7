import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { readFileSync } from 'node:fs';
import { accessInventory, inventoryMarkdown } from '@mc/server/auth/access-inventory';
import { inventoryPath } from '@mc/server/auth/write-access-inventory';
import { roleGrants } from '@mc/server/policy/packs/access';
import type { PolicyAction } from '@mc/shared/policy';
import { startTestStack, type TestStack } from '../support/test-stack.ts';

let stack: TestStack;
const tokens: Record<string, string> = {};
const roles = ['admin', 'operator', 'composer', 'viewer'] as const;

beforeAll(async () => {
  stack = await startTestStack({}, { worker: false });
  for (const role of roles) tokens[role] = role === 'admin' ? stack.adminToken : await stack.tokenFor(role);
});
afterAll(async () => {
  await stack.close();
});

const allowed = (role: string, access: string) => access === 'public' || (roleGrants.get(role)?.has(access as PolicyAction) ?? false);

/** A tRPC call over HTTP, as any client makes it (superjson envelope), with a deliberately empty input. */
async function callProcedure(name: string, type: string, token: string | null): Promise<number> {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const req =
    type === 'query'
      ? new Request(`http://mc.test/trpc/${name}?input=${encodeURIComponent(JSON.stringify({ json: {} }))}`, { headers })
      : new Request(`http://mc.test/trpc/${name}`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ json: {} }) });
  return (await stack.app.handle(req)).status;
}

describe('the access inventory', () => {
  it('gives every procedure and route a rule', () => {
    const inventory = accessInventory(stack.deps);
    expect(inventory.filter((e) => e.access === null).map((e) => e.name)).toEqual([]);
    expect(inventory.filter((e) => e.kind === 'trpc').length).toBeGreaterThan(15);
  });

  it('is written down as docs/security/ACCESS_INVENTORY.md (run `bun run inventory` after a change)', () => {
    expect(readFileSync(inventoryPath, 'utf8')).toBe(inventoryMarkdown(accessInventory(stack.deps)));
  });
});

describe('role × procedure matrix', () => {
  it('lets each role call exactly what the access pack grants, over tRPC', async () => {
    const procedures = accessInventory(stack.deps).filter((e) => e.kind === 'trpc');
    const mismatches: string[] = [];
    for (const p of procedures) {
      for (const role of roles) {
        const status = await callProcedure(p.name, p.type!, tokens[role]!);
        const denied = status === 401 || status === 403;
        if (denied === allowed(role, p.access!)) mismatches.push(`${role} ${p.name} (${p.access}) -> ${status}`);
        expect(status).toBeLessThan(500);
      }
      const anonymous = await callProcedure(p.name, p.type!, null);
      if ((anonymous === 401) !== (p.access !== 'public')) mismatches.push(`anonymous ${p.name} -> ${anonymous}`);
    }
    expect(mismatches).toEqual([]);
  });

  it('lets each role call exactly what the access pack grants, over REST', async () => {
    const routes = accessInventory(stack.deps).filter((e) => e.kind === 'rest');
    const mismatches: string[] = [];
    for (const r of routes) {
      const [method, pattern] = r.name.split(' ') as [string, string];
      const path = pattern.replace(':id', '00000000-0000-4000-8000-000000000000');
      for (const role of roles) {
        const res = await stack.rest(method, path, method === 'GET' || method === 'DELETE' ? undefined : {}, { authorization: `Bearer ${tokens[role]}` });
        const denied = res.status === 401 || res.status === 403;
        if (denied === allowed(role, r.access!)) mismatches.push(`${role} ${r.name} (${r.access}) -> ${res.status}`);
        expect(res.status).toBeLessThan(500);
      }
    }
    expect(mismatches).toEqual([]);
  });

  it('refuses a caller without credentials with 401 and a Bearer challenge', async () => {
    const res = await stack.app.handle(new Request('http://mc.test/api/workflows'));
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toStartWith('Bearer');
    const trpc = await stack.app.handle(new Request(`http://mc.test/trpc/workflows.list?input=${encodeURIComponent('{"json":{}}')}`));
    expect(trpc.status).toBe(401);
    expect(trpc.headers.get('www-authenticate')).toStartWith('Bearer');
  });
});
