import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { sql } from 'drizzle-orm';
import { startTestStack, type TestStack } from '../support/test-stack.ts';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({}, { worker: false });
});
afterAll(async () => {
  await stack.close();
});

const echo = (name: string, version = '1.0.0') => ({ name, version, tasks: [{ id: 't1', uses: 'pkg:demo/echo@1.0.0' }] });
async function rowCount(table: string): Promise<number> {
  const rows = await stack.deps.db.execute<{ n: number }>(sql.raw(`select count(*)::int as n from ${table}`));
  return rows[0]!.n;
}

describe('workflows.create', () => {
  it('refuses an existing (name, version) with a conflict naming it', async () => {
    const first = await stack.rest('POST', '/api/workflows', echo('dup'));
    expect(first.status).toBe(201);
    const second = await stack.rest('POST', '/api/workflows', { ...echo('dup'), description: 'other' });
    expect(second.status).toBe(409);
    expect(second.body.error.code).toBe('CONFLICT');
    expect(second.body.error.message).toContain('dup@1.0.0');
    expect(second.body.error.details.existingId).toBe(first.body.id);
  });

  it('answers the same conflict over tRPC', async () => {
    await stack.trpc.workflows.create.mutate(echo('dup-trpc'));
    const err = await stack.trpc.workflows.create.mutate(echo('dup-trpc')).catch((e) => e);
    expect(err.data.code).toBe('CONFLICT');
    expect(err.data.httpStatus).toBe(409);
  });

  const malformed: [string, unknown, string][] = [
    ['a version that is not semver', { ...echo('bad1'), version: '1.0' }, 'version'],
    ['a task without uses', { name: 'bad2', version: '1.0.0', tasks: [{ id: 't1' }] }, 'tasks.0.uses'],
    ['bad types', { name: 'bad3', version: '1.0.0', tasks: [{ id: 't1', uses: 'pkg:demo/echo@1.0.0', retries: 'three' }] }, 'tasks.0.retries'],
    ['a duplicate task id', { name: 'bad4', version: '1.0.0', tasks: [{ id: 'a', uses: 'pkg:demo/echo@1.0.0' }, { id: 'a', uses: 'pkg:demo/echo@1.0.0' }] }, 'tasks.1.id'],
    ['an unknown dependency', { name: 'bad5', version: '1.0.0', tasks: [{ id: 'a', uses: 'pkg:demo/echo@1.0.0', needs: ['ghost'] }] }, 'tasks.0.needs.0'],
    [
      'a cycle',
      { name: 'bad6', version: '1.0.0', tasks: [{ id: 'a', uses: 'pkg:demo/echo@1.0.0', needs: ['c'] }, { id: 'b', uses: 'pkg:demo/echo@1.0.0', needs: ['a'] }, { id: 'c', uses: 'pkg:demo/echo@1.0.0', needs: ['b'] }] },
      'tasks.0.needs',
    ],
    ['an unknown package', { name: 'bad7', version: '1.0.0', tasks: [{ id: 'a', uses: 'pkg:acme/rocket@9.9.9' }] }, 'tasks.0.uses'],
    ['an unknown key', { ...echo('bad8'), colour: 'red' }, ''],
    ['a package input of the wrong type', { name: 'bad9', version: '1.0.0', tasks: [{ id: 'a', uses: 'pkg:mc/sleep@1.0.0', with: { ms: 'long' } }] }, 'tasks.0.with.ms'],
    ['an oversize manifest', { ...echo('bad10'), description: 'x'.repeat(1000), tasks: Array.from({ length: 3000 }, (_, i) => ({ id: `t${i}`, uses: 'pkg:demo/echo@1.0.0', with: { pad: 'y'.repeat(100) } })) }, ''],
  ];

  for (const [what, manifest, path] of malformed) {
    it(`refuses ${what} with 400 and the field path, writing nothing`, async () => {
      const before = await rowCount('workflows');
      const res = await stack.rest('POST', '/api/workflows', manifest);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION');
      expect(res.body.error.issues.map((i: { path: string }) => i.path)).toContain(path);
      expect(await rowCount('workflows')).toBe(before);
    });
  }

  it('names the cycle in the message', async () => {
    const res = await stack.rest('POST', '/api/workflows', malformed[5]![1]);
    expect(JSON.stringify(res.body.error.issues)).toContain('a -> c -> b -> a');
  });

  it('refuses a body that is not JSON', async () => {
    const res = await stack.rest('POST', '/api/workflows', '{"name": ', { 'content-type': 'application/json' });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION');
  });
});

describe('workflows.publish and update', () => {
  it('publishes a draft once, records who and when, and emits mc.workflow.published', async () => {
    const wf = await stack.trpc.workflows.create.mutate(echo('pub'));
    const published = await stack.trpc.workflows.publish.mutate({ id: wf.id });
    expect(published).toMatchObject({ status: 'published', publishedBy: expect.stringMatching(/^token:/) });
    const again = await stack.trpc.workflows.publish.mutate({ id: wf.id });
    expect(again.publishedAt).toEqual(published.publishedAt);
    const events = await stack.trpc.audit.list.query({ workflowId: wf.id });
    expect(events.items.filter((e) => e.type === 'mc.workflow.published')).toHaveLength(1);
  });

  it('lets a draft change but refuses to change a published workflow', async () => {
    const wf = await stack.trpc.workflows.create.mutate(echo('immutable'));
    const changed = { ...echo('immutable'), description: 'v2 of the draft' };
    const updated = await stack.rest('PUT', `/api/workflows/${wf.id}`, changed);
    expect(updated.status).toBe(200);
    expect(updated.body.manifestDigest).not.toBe(wf.manifestDigest);
    await stack.trpc.workflows.publish.mutate({ id: wf.id });
    const refused = await stack.rest('PUT', `/api/workflows/${wf.id}`, { ...changed, description: 'sneaky' });
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toContain('published');
    const current = await stack.trpc.workflows.get.query({ id: wf.id });
    expect(current.manifest.description).toBe('v2 of the draft');
  });

  it('refuses to execute an unpublished workflow', async () => {
    const wf = await stack.trpc.workflows.create.mutate(echo('draft-only'));
    const before = await rowCount('executions');
    const res = await stack.rest('POST', '/api/executions', { workflowId: wf.id });
    expect(res.status).toBe(409);
    expect(res.body.error.message).toContain('publish it');
    expect(await rowCount('executions')).toBe(before);
  });

  it('answers 404 for unknown ids and 400 for malformed ones', async () => {
    expect((await stack.rest('GET', '/api/workflows/00000000-0000-4000-8000-000000000000')).status).toBe(404);
    expect((await stack.rest('POST', '/api/workflows/not-a-uuid/publish')).status).toBe(400);
    expect((await stack.rest('POST', '/api/executions', { workflowId: '00000000-0000-4000-8000-000000000000' })).status).toBe(404);
  });
});

describe('workflows.list', () => {
  it('pages through every workflow with cursors, newest first, without repeats', async () => {
    for (let i = 0; i < 7; i++) await stack.trpc.workflows.create.mutate(echo(`page-${i}`));
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { items: { name: string }[]; nextCursor: string | null } = await stack.trpc.workflows.list.query({ limit: 3, cursor });
      seen.push(...page.items.map((w) => w.name));
      cursor = page.nextCursor;
    } while (cursor);
    const pages = seen.filter((n) => n.startsWith('page-'));
    expect(pages).toEqual(['page-6', 'page-5', 'page-4', 'page-3', 'page-2', 'page-1', 'page-0']);
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('refuses a forged cursor', async () => {
    const res = await stack.rest('GET', '/api/workflows?cursor=bm90LWEtY3Vyc29y');
    expect(res.status).toBe(400);
  });
});
