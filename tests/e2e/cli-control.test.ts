import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, startTestStack, type TestStack } from '../support/test-stack.ts';

/** `mc schedule …` and `mc executions cancel|pause|resume|signal|approve|reject|rerun|history`, as a user runs them. */

const repoRoot = join(import.meta.dir, '..', '..');
let stack: TestStack;
let server: string;
let dir: string;

async function mc(args: string[], token = stack.adminToken): Promise<{ code: number; json: any; stderr: string }> {
  const proc = Bun.spawn(['bun', join(repoRoot, 'cli', 'main.ts'), ...args, '--json'], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '', HOME: dir, MC_CONFIG_DIR: join(dir, 'config'), MC_SERVER: server, MC_TOKEN: token, NO_COLOR: '1' },
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  let json: unknown = null;
  try {
    json = JSON.parse(stdout);
  } catch {
    json = stdout;
  }
  return { code, json, stderr };
}

beforeAll(async () => {
  stack = await startTestStack();
  stack.app.listen({ hostname: '127.0.0.1', port: 0 });
  server = `http://127.0.0.1:${stack.app.server?.port}`;
  dir = mkdtempSync(join(tmpdir(), 'mc-cli-control-'));
});
afterAll(async () => {
  await stack.app.stop();
  await stack.close();
  rmSync(dir, { recursive: true, force: true });
});

async function publish(manifest: unknown): Promise<string> {
  const wf = await stack.trpc.workflows.create.mutate(manifest);
  await stack.trpc.workflows.publish.mutate({ id: wf.id });
  return wf.id;
}

describe('mc schedule', () => {
  it('creates, lists, pauses, resumes and deletes a cron schedule', async () => {
    const wfId = await publish({ name: 'cli-nightly', version: '1.0.0', tasks: [{ id: 'e', uses: 'pkg:demo/echo@1.0.0' }] });
    const created = await mc(['schedule', 'create', wfId, 'nightly', '--cron', '30 2 * * *', '--tz', 'America/New_York', '--input', 'who=ops', '--missed', 'skip']);
    expect(created.code).toBe(0);
    expect(created.json).toMatchObject({ name: 'nightly', cron: '30 2 * * *', timezone: 'America/New_York', missedRunPolicy: 'skip', status: 'active', inputs: { who: 'ops' } });
    const id: string = created.json.id;
    expect((await mc(['schedule', 'list'])).json.items.map((s: { id: string }) => s.id)).toContain(id);
    expect((await mc(['schedule', 'pause', id])).json).toMatchObject({ status: 'paused', nextFireAt: null });
    expect((await mc(['schedule', 'resume', id])).json.status).toBe('active');
    expect((await mc(['schedule', 'delete', id])).json.status).toBe('deleted');
    expect((await mc(['schedule', 'get', id])).code).toBe(1);
    const bad = await mc(['schedule', 'create', wfId, 'bad', '--cron', '30 2 * * *', '--every', '5']);
    expect(bad.code).toBe(2);
  }, 60_000);
});

describe('mc executions control', () => {
  it('approves as another operator, and shows the history', async () => {
    const wfId = await publish({ name: 'cli-approval', version: '1.0.0', tasks: [{ id: 'ok', uses: 'pkg:mc/approval@1.0.0', with: { approvers: 1 } }] });
    const exec = await stack.trpc.executions.start.mutate({ workflowId: wfId });
    await eventually(async () => (await stack.trpc.executions.get.query({ id: exec.id })).steps[0]!.status === 'waiting' || null, { what: 'the approval to wait' });
    // The admin who started it may not approve their own run: exit 3 (denied).
    expect((await mc(['executions', 'approve', exec.id])).code).toBe(3);
    const approved = await mc(['executions', 'approve', exec.id, '--comment', 'lgtm'], await stack.tokenFor('operator'));
    expect(approved.code).toBe(0);
    expect(approved.json).toMatchObject({ decision: 'approve', approvals: 1, required: 1 });
    await stack.trpc.receipts.get.query({ executionId: exec.id });
    const history = await mc(['executions', 'history', exec.id]);
    expect(history.json.map((h: { type: string; to: string | null }) => `${h.type}:${h.to ?? ''}`)).toEqual([
      'mc.execution.approval.recorded:',
      'mc.execution.finished:receipt_pending',
      'mc.execution.receipt.signed:succeeded',
    ]);
  }, 60_000);

  it('pauses, resumes, signals, cancels and reruns', async () => {
    const wfId = await publish({
      name: 'cli-waits',
      version: '1.0.0',
      tasks: [
        { id: 'w', uses: 'pkg:mc/wait-for-event@1.0.0', with: { event: 'go', timeoutMs: 60_000 } },
        { id: 'then', uses: 'pkg:demo/echo@1.0.0', needs: ['w'] },
      ],
    });
    const exec = await stack.trpc.executions.start.mutate({ workflowId: wfId });
    await eventually(async () => (await stack.trpc.executions.get.query({ id: exec.id })).steps.find((s) => s.taskId === 'w')!.status === 'waiting' || null, { what: 'the wait' });
    expect((await mc(['executions', 'pause', exec.id, '--reason', 'hold'])).json.status).toBe('paused');
    expect((await mc(['executions', 'resume', exec.id])).json.status).toBe('running');
    expect((await mc(['executions', 'signal', exec.id, 'go', '--payload', '{"n":1}'])).json).toMatchObject({ event: 'go', key: '' });
    await stack.trpc.receipts.get.query({ executionId: exec.id });
    expect((await stack.trpc.executions.get.query({ id: exec.id })).status).toBe('succeeded');

    const second = await stack.trpc.executions.start.mutate({ workflowId: wfId });
    await eventually(async () => (await stack.trpc.executions.get.query({ id: second.id })).steps.find((s) => s.taskId === 'w')!.status === 'waiting' || null, { what: 'the wait' });
    const cancelled = (await mc(['executions', 'cancel', second.id, '--reason', 'no longer needed'])).json;
    // Cancelled: `receipt_pending` with that outcome until its receipt is stored (or already `cancelled`).
    expect(cancelled.outcome ?? cancelled.status).toBe('cancelled');
    // A rerun starts from the original's stored record: it waits for the receipt.
    await stack.trpc.receipts.get.query({ executionId: second.id });
    const rerun = await mc(['executions', 'rerun', second.id]);
    expect(rerun.code).toBe(0);
    expect(rerun.json.rerunOf).toBe(second.id);
    await stack.trpc.executions.cancel.mutate({ id: rerun.json.id });
  }, 60_000);
});
