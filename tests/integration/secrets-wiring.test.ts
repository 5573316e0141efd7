import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { eq } from 'drizzle-orm';
import { executionLogs, taskResults } from '@mc/server/db/schema';
import { openTaskResult } from '@mc/server/payloads/payload-boundary';
import { eventually, startTestStack, type TestStack } from '../support/test-stack.ts';

/** `${{ secrets.X }}` end to end: the receiver gets the value; nothing MC stores or answers holds it. */
const secretValue = `s3cr3t-${Math.random().toString(36).slice(2)}-value`;
const seen: { auth: string | null; key: string | null }[] = [];
let server: ReturnType<typeof Bun.serve>;
let stack: TestStack;
beforeAll(async () => {
  process.env.MC_SECRET_WIRING_TOKEN = secretValue;
  server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    fetch(req) {
      seen.push({ auth: req.headers.get('authorization'), key: req.headers.get('idempotency-key') });
      return Response.json({ echoed: req.headers.get('authorization') });
    },
  });
  stack = await startTestStack({ MC_HTTP_ALLOWED_HOSTS: `127.0.0.1:${server.port}` });
});
afterAll(async () => {
  await stack.close();
  await server.stop(true);
  delete process.env.MC_SECRET_WIRING_TOKEN;
});

async function run(tasks: unknown[]) {
  const wf = await stack.trpc.workflows.create.mutate({ name: `sw-${Math.random().toString(36).slice(2, 8)}`, version: '1.0.0', tasks });
  await stack.trpc.workflows.publish.mutate({ id: wf.id });
  const exec = await stack.trpc.executions.start.mutate({ workflowId: wf.id });
  return eventually(async () => {
    const e = await stack.trpc.executions.get.query({ id: exec.id });
    return ['succeeded', 'failed'].includes(e.status) ? e : null;
  });
}

describe('secrets end to end', () => {
  it('sends the value out, stores only masks', async () => {
    const exec = await run([
      { id: 'call', uses: 'pkg:mc/http@1.0.0', with: { url: `http://127.0.0.1:${server.port}/x`, method: 'POST', headers: { authorization: 'Bearer ${{ secrets.WIRING_TOKEN }}' }, body: { t: '${{ secrets.WIRING_TOKEN }}' } } },
      { id: 'echo', uses: 'pkg:demo/echo@1.0.0', with: { token: '${{ secrets.WIRING_TOKEN }}' } },
    ]);
    expect(exec.status).toBe('succeeded');
    expect(seen.at(-1)?.auth).toBe(`Bearer ${secretValue}`);
    // Outputs are stored encrypted (server/payloads/): check the plaintext as the engine reads it.
    const sealed = await stack.deps.db.select().from(taskResults).where(eq(taskResults.executionId, exec.id));
    const results = await Promise.all(sealed.map((r) => openTaskResult(stack.deps.db, r)));
    const logs = await stack.deps.db.select().from(executionLogs).where(eq(executionLogs.executionId, exec.id));
    const receipt = await stack.trpc.receipts.get.query({ executionId: exec.id });
    const everything = JSON.stringify({ results, logs, receipt, exec });
    expect(everything).not.toContain(secretValue);
    expect(JSON.stringify(results)).toContain('[REDACTED:secret]');
  });

  it('fails permanently when a secret is not set', async () => {
    const exec = await run([{ id: 'e', uses: 'pkg:demo/echo@1.0.0', retries: 2, with: { t: '${{ secrets.NOT_THERE }}' } }]);
    expect(exec.status).toBe('failed');
    expect(exec.steps[0]!.error).toBe('with: secret NOT_THERE is not set');
  });
});
